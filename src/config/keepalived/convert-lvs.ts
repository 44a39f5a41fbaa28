/**
 * keepalived's LVS side -> vipd services: virtual_server with lb_kind DR,
 * its real servers, and their health checks (one for the service, and a
 * per-backend override where a real server's check differs).
 */
import { isDeepStrictEqual } from 'node:util';
import { formatHostPort, parseIpAddress, unusableAddressReason } from '../address.js';
import { LIMITS } from '../schema.js';
import type { CommandReader } from './commands.js';
import type { DiagnosticLog } from './diagnostics.js';
import { REAL_SERVER_UNSUPPORTED, UNSUPPORTED_CHECKS, VIRTUAL_SERVER_UNSUPPORTED, reportUnhandled } from './keywords.js';
import type { BackendYaml, HealthCheckYaml, ServiceYaml } from './output.js';
import type { Statement } from './parser.js';
import { blockOf, describe, readNumber } from './values.js';

/** Settings a virtual_server passes down to its checks (keepalived inherits them). */
interface CheckDefaults {
  delayLoop: number;
  connectTimeout?: number;
  retry?: number;
  virtualhost?: string;
}

/** keepalived's defaults: delay_loop 60 s, connect_timeout 5 s. */
const KEEPALIVED_DELAY_LOOP = 60;
const KEEPALIVED_CONNECT_TIMEOUT = 5;
/** keepalived retries a failed check this often before the server is down. */
const KEEPALIVED_RETRY: Readonly<Record<string, number>> = { TCP_CHECK: 1, HTTP_GET: 1, SSL_GET: 1, MISC_CHECK: 0 };

const CHECK_TYPES: Readonly<Record<string, HealthCheckYaml['type']>> = {
  TCP_CHECK: 'tcp', HTTP_GET: 'http', SSL_GET: 'https', MISC_CHECK: 'command',
};

const COMMON_CHECK_KEYWORDS = ['connect_port', 'connect_timeout', 'retry', 'nb_get_retry', 'delay_before_retry', 'delay_loop'];
const CHECK_UNSUPPORTED: Readonly<Record<string, string>> = {
  connect_ip: 'vipd checks the backend address itself',
  bindto: 'vipd checks from the host\'s default source address',
  bind_port: 'vipd checks from an ephemeral port',
  bind_if: 'vipd checks through the routing table',
  fwmark: 'no firewall marks on vipd checks',
  warmup: 'no vipd equivalent',
  alpha: 'vipd applies rise/fall',
  http_protocol: 'vipd sends HTTP/1.1',
  enable_sni: 'vipd sends SNI when host is set',
  tls_compliant: 'no vipd equivalent',
  misc_dynamic: 'vipd does not take weights from a check\'s exit code',
  log_all_failures: 'vipd logs every state change',
};

function firstUrl(log: DiagnosticLog, urls: readonly Statement[]): { path?: string; status?: number } {
  const [url, ...rest] = urls;
  for (const extra of rest) log.dropped(extra, 'url', 'vipd checks one path per service; only the first url is converted');
  if (!url) return {};
  const result: { path?: string; status?: number } = {};
  for (const statement of blockOf(log, url)) {
    if (statement.keyword === 'path') {
      const path = statement.args[0];
      if (path?.startsWith('/')) result.path = path;
      else log.dropped(statement, describe(statement), 'the path must start with "/"; "/" is used');
    } else if (statement.keyword === 'status_code') {
      const first = statement.args[0] ?? '';
      if (/^\d{3}$/.test(first) && statement.args.length === 1) result.status = Number(first);
      else {
        const status = Number(/^(\d{3})/.exec(first)?.[1] ?? 200);
        result.status = status >= 100 && status <= 599 ? status : 200;
        log.dropped(statement, describe(statement), `vipd expects one status code; ${result.status} is used`);
      }
    } else if (statement.keyword === 'digest') {
      log.dropped(statement, 'digest', 'vipd checks the status code, not a digest of the body');
    } else {
      reportUnhandled(log, statement, 'url', { regex: 'vipd does not match the body', regex_no_match: 'vipd does not match the body',
        regex_options: 'vipd does not match the body', regex_stack: 'vipd does not match the body', virtualhost: 'set host on the check' }, ['path', 'status_code', 'digest']);
    }
  }
  if (result.status === undefined) log.note(url, 'url', 'no status_code: keepalived accepts any 2xx, vipd expects exactly 200');
  return result;
}

/** One keepalived checker block -> a vipd check; undefined (reported) when it cannot be. */
function convertCheck(log: DiagnosticLog, block: Statement, defaults: CheckDefaults, servicePort: number, serverPort: number, commands: CommandReader): HealthCheckYaml | undefined {
  const type = CHECK_TYPES[block.keyword];
  if (!type) return undefined;
  let port = serverPort;
  let interval = defaults.delayLoop;
  let timeout = defaults.connectTimeout;
  let retry = defaults.retry;
  let command: string[] | undefined;
  let host = defaults.virtualhost;
  const urls: Statement[] = [];
  for (const statement of blockOf(log, block)) {
    switch (statement.keyword) {
      case 'connect_port': port = readNumber(log, statement, { ...LIMITS.port, integer: true }) ?? port; break;
      case 'connect_timeout': case 'misc_timeout': timeout = readNumber(log, statement, { min: 0.01, max: 3600 }) ?? timeout; break;
      case 'retry': case 'nb_get_retry': retry = readNumber(log, statement, { min: 0, max: 99, integer: true }) ?? retry; break;
      case 'delay_loop': interval = readNumber(log, statement, { min: 0.01, max: 3600 }) ?? interval; break;
      case 'delay_before_retry':
        log.noteOnce('delay_before_retry', statement, describe(statement), 'vipd retries at the check interval; fall counts the retries');
        break;
      case 'url': urls.push(statement); break;
      case 'virtualhost': host = statement.args[0] ?? host; break;
      case 'misc_path': command = commands.read(statement, 'check'); break;
      case 'user': log.note(statement, describe(statement), 'vipd runs commands as its own user'); break;
      default: reportUnhandled(log, statement, block.keyword, CHECK_UNSUPPORTED, [...COMMON_CHECK_KEYWORDS, 'url', 'virtualhost', 'misc_path', 'misc_timeout']);
    }
  }
  // keepalived marks a server down after the first failure plus `retry` retries, and up after one success.
  const timing = {
    interval,
    timeout: timeout ?? (type === 'command' ? interval : KEEPALIVED_CONNECT_TIMEOUT),
    rise: 1,
    fall: (retry ?? KEEPALIVED_RETRY[block.keyword] ?? 1) + 1,
  };
  const portPart = port === servicePort ? {} : { port };
  if (type === 'command') {
    if (!command) {
      if (!blockOf(log, block).some((s) => s.keyword === 'misc_path')) log.dropped(block, 'MISC_CHECK', 'has no misc_path; check not converted');
      return undefined;
    }
    return { type, command, ...timing };
  }
  if (type === 'tcp') return { type, ...portPart, ...timing };
  const url = firstUrl(log, urls);
  return {
    type, ...portPart, path: url.path ?? '/', expectStatus: url.status ?? 200, ...(host ? { host } : {}), ...timing,
  };
}

interface RealServer {
  backend: BackendYaml;
  check?: { check: HealthCheckYaml; at: Statement };
  /** Checker blocks vipd has no equivalent for (SMTP_CHECK, UDP_CHECK, ...). */
  unsupported: Statement[];
}

function convertRealServer(log: DiagnosticLog, block: Statement, defaults: CheckDefaults, servicePort: number, family: 4 | 6, commands: CommandReader): RealServer | undefined {
  const ip = parseIpAddress(block.args[0] ?? '');
  if (!ip || unusableAddressReason(ip) || ip.family !== family) {
    log.dropped(block, describe(block), ip && ip.family !== family ? 'address family differs from the VIP; direct routing keeps it' : 'not a unicast IP address; real server not converted');
    return undefined;
  }
  const serverPort = Number(block.args[1] ?? servicePort);
  if (serverPort !== servicePort) {
    log.dropped(block, describe(block), `direct routing does not translate ports: traffic reaches this backend on port ${servicePort}`);
  }
  const server: RealServer = { backend: { address: ip.address, weight: 1 }, unsupported: [] };
  for (const statement of blockOf(log, block)) {
    if (statement.keyword === 'weight') {
      server.backend.weight = readNumber(log, statement, { ...LIMITS.backendWeight, integer: true }) ?? 1;
    } else if (CHECK_TYPES[statement.keyword]) {
      const check = convertCheck(log, statement, defaults, servicePort, Number.isInteger(serverPort) ? serverPort : servicePort, commands);
      if (check && server.check) log.dropped(statement, statement.keyword, `vipd runs one check per backend; only the first (line ${server.check.at.line}) is converted`);
      else if (check) server.check = { check, at: statement };
    } else if (UNSUPPORTED_CHECKS[statement.keyword]) {
      server.unsupported.push(statement);
    } else {
      reportUnhandled(log, statement, 'real_server', REAL_SERVER_UNSUPPORTED, ['weight', ...Object.keys(CHECK_TYPES)]);
    }
  }
  return server;
}

/**
 * The service's check is the first real server's; a server whose check
 * differs keeps its own as a per-backend override. Checks vipd has no
 * equivalent for are reported with what the backend is left with.
 */
function placeChecks(log: DiagnosticLog, servers: readonly RealServer[], service: string): HealthCheckYaml | undefined {
  const first = servers.find((server) => server.check)?.check;
  for (const server of servers) {
    if (first && server.check && server.check !== first && !isDeepStrictEqual(server.check.check, first.check)) {
      server.backend.healthCheck = server.check.check;
    }
    for (const statement of server.unsupported) {
      const why = UNSUPPORTED_CHECKS[statement.keyword] ?? 'no vipd equivalent';
      const left = server.check
        ? `backend ${server.backend.address} is checked by its ${server.check.at.keyword} (line ${server.check.at.line}) only`
        : first
          ? `backend ${server.backend.address} gets the service's ${first.at.keyword} (line ${first.at.line}) instead`
          : `service ${service} is left without a health check: every backend counts as up and gets traffic even when it is down`;
      log.dropped(statement, statement.keyword, `${why}; ${left}. Meanwhile a MISC_CHECK (a command check) can do the probe`);
    }
  }
  const unchecked = servers.filter((server) => !server.check && server.unsupported.length === 0);
  if (first && unchecked.length > 0) {
    log.note(first.at, first.at.keyword, `also applied to ${unchecked.map((s) => s.backend.address).join(', ')}, which had no check in keepalived`);
  }
  return first?.check;
}

/** What to do instead of a NAT or TUN virtual server, since vipd forwards by direct routing only. */
function forwardingAdvice(vip: { address: string; family: 4 | 6 }, port: number): string {
  const onLo = `ip addr add ${vip.address}/${vip.family === 4 ? 32 : 128} dev lo`;
  return 'vipd forwards by direct routing only (it rewrites the destination MAC); virtual_server not converted. ' +
    `To move it to vipd, switch it to DR: each real server holds the VIP on lo (${onLo}) with ` +
    `net.ipv4.conf.all.arp_ignore=1 and arp_announce=2, shares a layer-2 segment with the vipd hosts and listens on port ${port} itself (DR does not translate ports). ` +
    'Otherwise keep this service on IPVS (keepalived\'s virtual_server)';
}

const VIRTUAL_SERVER_KEYWORDS = ['delay_loop', 'lb_algo', 'lvs_sched', 'lb_kind', 'lvs_method', 'protocol', 'real_server',
  'connect_timeout', 'retry', 'virtualhost', 'delay_before_retry', 'persistence_timeout', 'ha_suspend'];

/** vipdInstance: the instance holding a VIP, by canonical address. */
export function convertVirtualServer(log: DiagnosticLog, block: Statement, vipInstance: ReadonlyMap<string, string>, commands: CommandReader): ServiceYaml | undefined {
  const [addressText, portText] = block.args;
  if (addressText === 'group' || addressText === 'fwmark') {
    log.dropped(block, describe(block), `virtual_server ${addressText} has no vipd equivalent: services are one VIP and port`);
    return undefined;
  }
  const ip = parseIpAddress(addressText ?? '');
  const port = Number(portText);
  if (!ip || !Number.isInteger(port) || port < 1 || port > 65535) {
    log.dropped(block, describe(block), 'needs an IP address and a port; not converted');
    return undefined;
  }
  const defaults: CheckDefaults = { delayLoop: KEEPALIVED_DELAY_LOOP };
  let kind: Statement | undefined;
  let protocol: 'tcp' | 'udp' = 'tcp';
  let persistence: number | undefined;
  const realServers: Statement[] = [];
  for (const statement of blockOf(log, block)) {
    switch (statement.keyword) {
      case 'delay_loop': defaults.delayLoop = readNumber(log, statement, { min: 0.01, max: 3600 }) ?? defaults.delayLoop; break;
      case 'connect_timeout': defaults.connectTimeout = readNumber(log, statement, { min: 0.01, max: 3600 }); break;
      case 'retry': defaults.retry = readNumber(log, statement, { min: 0, max: 99, integer: true }); break;
      case 'virtualhost': defaults.virtualhost = statement.args[0]; break;
      case 'delay_before_retry': log.noteOnce('delay_before_retry', statement, describe(statement), 'vipd retries at the check interval; fall counts the retries'); break;
      case 'persistence_timeout': {
        // 0 is keepalived's "no persistence"; vipd's persistence: { timeout } is the same rule per client address.
        const seconds = readNumber(log, statement, { min: 0, max: 86_400 });
        persistence = seconds === undefined || seconds === 0 ? undefined : seconds;
        break;
      }
      case 'ha_suspend': log.note(statement, describe(statement), 'vipd forwards a service only while its instance is MASTER anyway'); break;
      case 'lb_algo': case 'lvs_sched':
        if (statement.args[0] !== 'mh') log.note(statement, describe(statement), 'vipd always uses Maglev consistent hashing (IPVS "mh"), weighted');
        break;
      case 'lb_kind': case 'lvs_method': kind = statement; break;
      case 'protocol': {
        const value = statement.args[0]?.toUpperCase();
        if (value === 'TCP' || value === 'UDP') protocol = value === 'TCP' ? 'tcp' : 'udp';
        else {
          log.dropped(statement, describe(statement), 'vipd forwards TCP and UDP only; virtual_server not converted');
          return undefined;
        }
        break;
      }
      case 'real_server': realServers.push(statement); break;
      default: reportUnhandled(log, statement, 'virtual_server', VIRTUAL_SERVER_UNSUPPORTED, VIRTUAL_SERVER_KEYWORDS);
    }
  }
  const method = kind?.args[0]?.toUpperCase();
  if (method !== 'DR') {
    log.dropped(kind ?? block, kind ? describe(kind) : describe(block),
      `${kind ? '' : 'no lb_kind: keepalived\'s default is NAT. '}${forwardingAdvice(ip, port)}`);
    return undefined;
  }
  const instance = vipInstance.get(ip.address);
  if (instance === undefined) {
    log.dropped(block, describe(block), 'no converted vrrp_instance has this VIP; vipd forwards a service only while the instance holding its VIP is MASTER; not converted');
    return undefined;
  }
  const servers: RealServer[] = [];
  for (const statement of realServers) {
    const server = convertRealServer(log, statement, defaults, port, ip.family, commands);
    if (!server) continue;
    if (servers.some((s) => s.backend.address === server.backend.address)) {
      log.dropped(statement, describe(statement), 'this backend is already listed for the service; ignored');
      continue;
    }
    servers.push(server);
  }
  if (servers.length === 0) {
    log.dropped(block, describe(block), 'no usable real_server; not converted');
    return undefined;
  }
  const healthCheck = placeChecks(log, servers, `${formatHostPort(ip.address, port)}/${protocol}`);
  return {
    vip: ip.address,
    port,
    protocol,
    instance,
    backends: servers.map((s) => s.backend),
    ...(healthCheck ? { healthCheck } : {}),
    ...(persistence === undefined ? {} : { persistence: { timeout: persistence } }),
  };
}
