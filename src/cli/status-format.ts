/** `vipctl status` as tables for people. */
import type { BackendStatus, BgpStatus, InstanceStatus, ServiceStatus, StatusResult } from '../daemon/api.js';
import { tableLines } from './table.js';
import { formatAgo, formatDuration } from './units.js';

function masterSince(instance: InstanceStatus, now: Date): string {
  if (instance.masterSince !== null) return formatAgo(instance.masterSince, now);
  return instance.masterAddress !== null ? `- (master ${instance.masterAddress})` : '-';
}

function instanceRows(instances: readonly InstanceStatus[], now: Date): string[][] {
  return instances.map((i) => [
    i.name,
    i.state,
    String(i.priority),
    String(i.effectivePriority),
    String(i.vrid),
    `v${i.version}`,
    i.interface,
    masterSince(i, now),
    String(i.transitions),
    i.vips.join(' '),
  ]);
}

function backendState(b: BackendStatus): string {
  if (b.drained) return b.up ? 'DRAINED' : 'DRAINED,DOWN';
  return b.up ? 'UP' : 'DOWN';
}

/** CONNS: flows the connection table holds for the backend (a daemon before ABI 6 sends none: no column). */
function backendRows(backends: readonly BackendStatus[], conns: boolean): string[][] {
  return backends.map((b) => [
    b.address,
    backendState(b),
    String(b.weight),
    ...(conns ? [b.connections === null || b.connections === undefined ? '-' : String(b.connections)] : []),
    b.mac ?? 'unresolved',
    b.reason ?? '',
  ]);
}

function serviceLines(service: ServiceStatus): string[] {
  const where = `${service.vip}:${service.port}/${service.protocol}`;
  const title = service.name === where ? where : `${service.name} (${where})`;
  const up = service.backends.filter((b) => b.up && !b.drained).length;
  const lines = [
    `${title}  instance ${service.instance}, ${service.active ? 'forwarding here' : 'not forwarding here'}, ${up}/${service.backends.length} backends taking flows`,
  ];
  if (service.backends.length === 0) return [...lines, '  (no backends)'];
  const conns = service.backends.some((b) => b.connections !== undefined);
  return [
    ...lines,
    ...tableLines(
      [
        'BACKEND',
        'STATE',
        { title: 'WEIGHT', align: 'right' },
        ...(conns ? [{ title: 'CONNS', align: 'right' as const }] : []),
        'MAC',
        'CHECK',
      ],
      backendRows(service.backends, conns),
      '  ',
    ),
  ];
}

function failoverLines(instances: readonly InstanceStatus[]): string[] {
  return instances
    .filter((i) => i.lastReason !== null || i.lastFailoverSeconds !== null)
    .map((i) => {
      const parts = [];
      if (i.lastReason !== null) parts.push(`last change: ${i.lastReason}`);
      if (i.lastFailoverSeconds !== null) parts.push(`last failover took ${formatDuration(i.lastFailoverSeconds)}`);
      return `  ${i.name}: ${parts.join('; ')}`;
    });
}

/** The BGP speaker: sessions, then every VIP announced over BGP and why one is not. */
function bgpLines(bgp: BgpStatus): string[] {
  return [
    `BGP: AS ${bgp.asn}, router id ${bgp.routerId}${bgp.drained ? ', host DRAINED (vipctl undrain-host announces again)' : ''}`,
    ...tableLines(['PEER', 'UP', 'SESSION'], bgp.sessions.map((p) => [p.peer, p.up ? 'yes' : 'no', p.state])),
    ...(bgp.vips.length === 0
      ? ['  (no VIP announced over BGP)']
      : tableLines(['VIP', 'ANNOUNCED', 'WHY NOT'], bgp.vips.map((v) => [v.vip, v.announced ? 'yes' : 'no', v.reason ?? '']))),
  ];
}

export function formatStatus(status: StatusResult, now: Date): string {
  const d = status.daemon;
  const lines = [`vipd ${d.version}, pid ${d.pid}, up ${formatAgo(d.startedAt, now).replace(/ ago$/, '')}, config ${d.configFile}, pins ${d.pinDir}`, ''];
  if (status.instances.length === 0) lines.push('No VRRP instances.');
  else {
    lines.push(
      ...tableLines(
        [
          'INSTANCE',
          'STATE',
          { title: 'PRIO', align: 'right' },
          { title: 'EFFECTIVE', align: 'right' },
          { title: 'VRID', align: 'right' },
          'VRRP',
          'INTERFACE',
          'MASTER SINCE',
          { title: 'TRANSITIONS', align: 'right' },
          'VIPS',
        ],
        instanceRows(status.instances, now),
      ),
      ...failoverLines(status.instances),
    );
  }
  if (status.bgp) lines.push('', ...bgpLines(status.bgp));
  lines.push('');
  if (status.services.length === 0) lines.push('No services.');
  else lines.push(...status.services.flatMap((s, i) => [...(i > 0 ? [''] : []), ...serviceLines(s)]));
  return `${lines.join('\n')}\n`;
}
