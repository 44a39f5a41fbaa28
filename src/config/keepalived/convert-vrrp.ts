/**
 * keepalived's VRRP side -> vipd instances and sync groups: global_defs
 * defaults, vrrp_script, vrrp_instance, vrrp_sync_group.
 */
import { parseCidr, parseIpAddress, unusableAddressReason } from '../address.js';
import { NAME_PATTERN } from '../read-instance.js';
import { LIMITS } from '../schema.js';
import type { CommandReader } from './commands.js';
import type { DiagnosticLog } from './diagnostics.js';
import { GLOBAL_NOTES, GLOBAL_UNSUPPORTED, INSTANCE_UNSUPPORTED, reportUnhandled } from './keywords.js';
import type { GarpYaml, InstanceYaml, NotifyYaml, SyncGroupYaml, TrackScriptYaml } from './output.js';
import type { Statement } from './parser.js';
import { blockOf, describe, readNumber, readWord } from './values.js';

/** Settings from global_defs that are defaults for every instance. */
export interface VrrpGlobals {
  version: 2 | 3;
  garp: GarpYaml;
  checksumAsV2: boolean;
  /** The global `vrrp_strict`, when set: keepalived then ignores authentication and preempt_delay. */
  strict?: Statement;
}

/** A vrrp_script, not yet placed: instances may override its weight. */
export type ScriptDefinition = Omit<TrackScriptYaml, 'name'> & { readonly at: Statement };

const GARP_KEYWORDS: Readonly<Record<string, { key: keyof GarpYaml; min: number; max: number; integer?: boolean }>> = {
  garp_master_repeat: { key: 'repeat', min: 1, max: 100, integer: true },
  garp_master_delay: { key: 'delay', min: 0, max: 3600 },
  garp_master_refresh: { key: 'refresh', min: 0, max: 86400 },
  garp_interval: { key: 'interval', min: 0, max: 10 },
};

/** keepalived's defaults where they differ from vipd's: v2 unless told otherwise. */
export function defaultGlobals(): VrrpGlobals {
  return { version: 2, garp: {}, checksumAsV2: false };
}

export function convertGlobalDefs(log: DiagnosticLog, block: Statement, globals: VrrpGlobals): void {
  for (const statement of blockOf(log, block)) {
    const keyword = statement.keyword;
    const garpRule = keyword.startsWith('vrrp_') ? GARP_KEYWORDS[keyword.slice(5)] : undefined;
    if (garpRule) {
      const value = readNumber(log, statement, garpRule);
      if (value !== undefined) globals.garp[garpRule.key] = value;
    } else if (keyword === 'vrrp_version') {
      const version = readNumber(log, statement, { min: 2, max: 3, integer: true });
      if (version === 2 || version === 3) globals.version = version;
    } else if (keyword === 'vrrp_strict') {
      globals.strict = statement;
      log.note(statement, describe(statement), 'vipd always follows the RFC checks that matter on the wire; what strict mode changes in keepalived (no authentication, no preempt_delay) is applied to the converted instances');
    } else if (keyword === 'v3_checksum_as_v2' || keyword === 'vrrp_v3_checksum_as_v2') {
      globals.checksumAsV2 = statement.args[0] !== 'false';
    } else if (GLOBAL_NOTES[keyword] !== undefined) {
      log.note(statement, describe(statement), GLOBAL_NOTES[keyword]);
    } else if (GLOBAL_UNSUPPORTED[keyword] !== undefined || keyword.startsWith('vrrp_') || keyword.startsWith('checker_') ||
      keyword.startsWith('lvs_') || keyword.startsWith('bfd_') || keyword.startsWith('snmp_') || keyword.startsWith('enable_')) {
      log.dropped(statement, describe(statement), GLOBAL_UNSUPPORTED[keyword] ?? 'no vipd equivalent');
    } else {
      reportUnhandled(log, statement, 'global_defs', GLOBAL_UNSUPPORTED, [...Object.keys(GARP_KEYWORDS).map((k) => `vrrp_${k}`), 'vrrp_version', ...Object.keys(GLOBAL_NOTES)]);
    }
  }
}

const SCRIPT_KEYWORDS = ['script', 'interval', 'timeout', 'weight', 'rise', 'fall', 'user', 'init_fail'];

export function convertVrrpScript(log: DiagnosticLog, block: Statement, commands: CommandReader): [string, ScriptDefinition] | undefined {
  const name = block.args[0];
  if (name === undefined) {
    log.dropped(block, 'vrrp_script', 'needs a name; ignored');
    return undefined;
  }
  let command: string[] | undefined;
  // keepalived's defaults: every second, timeout = interval, FAULT on failure (weight 0), rise/fall 1.
  const script: Omit<ScriptDefinition, 'command'> & { command?: string[] } = { interval: 1, weight: 0, rise: 1, fall: 1, at: block };
  for (const statement of blockOf(log, block)) {
    switch (statement.keyword) {
      case 'script':
        command = commands.read(statement, 'script');
        break;
      case 'interval': script.interval = readNumber(log, statement, { min: 0.01, max: 3600 }) ?? script.interval; break;
      case 'timeout': {
        const timeout = readNumber(log, statement, { min: 0.01, max: 3600 });
        if (timeout !== undefined) script.timeout = timeout;
        break;
      }
      case 'weight':
        script.weight = readNumber(log, statement, { ...LIMITS.trackWeight, integer: true }) ?? script.weight;
        if (statement.args[1] === 'reverse') log.dropped(statement, describe(statement), '"reverse" weights have no vipd equivalent');
        break;
      case 'rise': script.rise = readNumber(log, statement, { min: 1, max: 100, integer: true }) ?? script.rise; break;
      case 'fall': script.fall = readNumber(log, statement, { min: 1, max: 100, integer: true }) ?? script.fall; break;
      case 'user': log.note(statement, describe(statement), 'vipd runs commands as its own user'); break;
      case 'init_fail': log.dropped(statement, 'init_fail', 'vipd starts a track script as passing'); break;
      default: reportUnhandled(log, statement, 'vrrp_script', {}, SCRIPT_KEYWORDS);
    }
  }
  if (!command) {
    if (!blockOf(log, block).some((s) => s.keyword === 'script')) log.dropped(block, `vrrp_script ${name}`, 'has no script; ignored');
    return undefined;
  }
  return [name, { ...script, command }];
}

/** keepalived names may hold characters vipd names do not. */
export function vipdName(log: DiagnosticLog, at: Statement, name: string): string {
  if (NAME_PATTERN.test(name) && name.length <= LIMITS.nameLength) return name;
  const cleaned = (name.replace(/[^A-Za-z0-9_.:-]/g, '_').replace(/^[^A-Za-z0-9]+/, '') || 'unnamed').slice(0, LIMITS.nameLength);
  log.note(at, describe(at), `renamed to "${cleaned}" (vipd names use letters, digits, _ . : -)`);
  return cleaned;
}

/** Collects notify_* statements; the generic `notify` fills the states without their own. */
class NotifyCollector {
  private readonly specific: NotifyYaml = {};
  private generic: { argv: string[]; at: Statement } | undefined;

  constructor(
    private readonly log: DiagnosticLog,
    private readonly commands: CommandReader,
  ) {}

  accept(statement: Statement): boolean {
    const state = { notify_master: 'master', notify_backup: 'backup', notify_fault: 'fault', notify_stop: 'stop' }[statement.keyword] as keyof NotifyYaml | undefined;
    if (statement.keyword !== 'notify' && state === undefined) return false;
    const argv = this.commands.read(statement, 'notify');
    if (argv && state) this.specific[state] = argv;
    else if (argv) this.generic = { argv, at: statement };
    return true;
  }

  result(): NotifyYaml | undefined {
    const notify: NotifyYaml = {};
    for (const state of ['master', 'backup', 'fault', 'stop'] as const) {
      const argv = this.specific[state] ?? this.generic?.argv;
      if (argv) notify[state] = argv;
    }
    const shadowed = (['master', 'backup', 'fault', 'stop'] as const).filter((s) => this.specific[s]);
    if (this.generic && shadowed.length > 0) {
      this.log.dropped(this.generic.at, describe(this.generic.at),
        `vipd runs one command per state: not run on ${shadowed.join(', ')}, where notify_${shadowed[0]} is used`);
    }
    return Object.keys(notify).length > 0 ? notify : undefined;
  }
}

const INSTANCE_KEYWORDS = [
  'state', 'interface', 'virtual_router_id', 'priority', 'advert_int', 'version', 'nopreempt', 'preempt',
  'preempt_delay', 'authentication', 'unicast_src_ip', 'unicast_peer', 'virtual_ipaddress', 'track_interface',
  'track_script', 'notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify', 'v3_checksum_as_v2', 'strict_mode',
  'use_vmac', 'vmac_xmit_base',
  ...Object.keys(GARP_KEYWORDS),
];

/** Conversion state of one vrrp_instance while its statements are read. */
interface InstanceDraft {
  name: string;
  interface?: string;
  vrid?: number;
  version: 2 | 3;
  /** Unset: keepalived derives it from the state (255 for MASTER, else 100). */
  priority?: number;
  advertInterval?: { value: number; at: Statement };
  /** `state MASTER`, which changes how keepalived reads priority and preemption. */
  master?: Statement;
  nopreempt?: Statement;
  preemptDelay?: { value: number; at: Statement };
  /** What makes the instance strict (global vrrp_strict or its own strict_mode), if anything. */
  strict?: Statement;
  unicastSource?: string;
  unicastPeers: string[];
  auth?: { password: string; at: Statement };
  checksumAsV2: boolean;
  /** `use_vmac`: answer with the VRRP virtual MAC. */
  vmac: boolean;
  vips: string[];
  vipFamilies: Set<4 | 6>;
  garp: GarpYaml;
  trackInterfaces: { name: string; weight: number }[];
  trackScripts: TrackScriptYaml[];
}

function convertAuthentication(log: DiagnosticLog, block: Statement, draft: InstanceDraft): void {
  let type: Statement | undefined;
  let pass: Statement | undefined;
  for (const statement of blockOf(log, block)) {
    if (statement.keyword === 'auth_type') type = statement;
    else if (statement.keyword === 'auth_pass') pass = statement;
    else reportUnhandled(log, statement, 'authentication', {}, ['auth_type', 'auth_pass']);
  }
  const kind = type?.args[0]?.toUpperCase();
  if (kind === 'AH') {
    log.dropped(type ?? block, 'auth_type AH', 'vipd does not do IPsec AH; the instance is converted without authentication, so keepalived peers using AH will not accept it');
    return;
  }
  if (kind !== 'PASS' || !pass?.args[0]) {
    log.dropped(type ?? block, describe(type ?? block), 'needs auth_type PASS and auth_pass; converted without authentication');
    return;
  }
  let password = pass.args[0];
  // keepalived silently keeps the first 8 bytes: the wire field is 8 bytes.
  if (Buffer.byteLength(password) > LIMITS.passwordBytes) {
    password = Buffer.from(password).subarray(0, LIMITS.passwordBytes).toString();
    log.note(pass, 'auth_pass', `longer than 8 bytes: keepalived uses only "${password}", and so does the converted config`);
  }
  draft.auth = { password, at: pass };
}

function convertVirtualAddresses(log: DiagnosticLog, block: Statement, draft: InstanceDraft): void {
  for (const entry of blockOf(log, block)) {
    const parsed = parseCidr(entry.keyword);
    if (!parsed.ok) {
      log.dropped(entry, describe(entry), `${parsed.reason}; address ignored`);
      continue;
    }
    const twice = draft.vips.find((vip) => vip.split('/')[0] === parsed.value.address);
    if (twice) {
      log.note(entry, describe(entry), `${parsed.value.address} is already listed (as ${twice}); the repeat is ignored`);
      continue;
    }
    draft.vips.push(parsed.value.cidr);
    draft.vipFamilies.add(parsed.value.family);
    for (let i = 0; i < entry.args.length; i++) {
      const option = entry.args[i] ?? '';
      const value = entry.args[i + 1];
      if (option === 'dev' && value === draft.interface) {
        i++;
        continue;
      }
      const takesValue = ['dev', 'brd', 'broadcast', 'scope', 'label', 'preferred_lft', 'track_group'].includes(option);
      const what = takesValue && value !== undefined ? `${option} ${value}` : option;
      if (takesValue) i++;
      log.dropped(entry, `${entry.keyword} ${what}`, option === 'dev'
        ? 'vipd puts every VIP on the instance interface'
        : 'address options have no vipd equivalent; the address is converted without it');
    }
  }
}

function convertTrackScripts(log: DiagnosticLog, block: Statement, draft: InstanceDraft, scripts: ReadonlyMap<string, ScriptDefinition>): void {
  for (const entry of blockOf(log, block)) {
    const script = scripts.get(entry.keyword);
    if (!script) {
      log.dropped(entry, describe(entry), `no usable vrrp_script "${entry.keyword}" (see its own report if it has one); not tracked`);
      continue;
    }
    const { at: _at, ...settings } = script;
    let weight = settings.weight;
    if (entry.args[0] === 'weight') {
      weight = readNumber(log, { ...entry, args: entry.args.slice(1) }, { ...LIMITS.trackWeight, integer: true }) ?? weight;
    }
    const name = vipdName(log, entry, entry.keyword);
    if (draft.trackScripts.some((tracked) => tracked.name === name)) {
      log.note(entry, describe(entry), `"${name}" is already tracked by this instance; the repeat is ignored`);
      continue;
    }
    draft.trackScripts.push({ name, command: settings.command, interval: settings.interval,
      ...(settings.timeout === undefined ? {} : { timeout: settings.timeout }), weight, rise: settings.rise, fall: settings.fall });
  }
}

function convertTrackInterfaces(log: DiagnosticLog, block: Statement, draft: InstanceDraft): void {
  for (const entry of blockOf(log, block)) {
    let weight = 0;
    if (entry.args[0] === 'weight') {
      weight = readNumber(log, { ...entry, args: entry.args.slice(1) }, { ...LIMITS.trackWeight, integer: true }) ?? 0;
    }
    if (draft.trackInterfaces.some((tracked) => tracked.name === entry.keyword)) {
      log.note(entry, describe(entry), `${entry.keyword} is already tracked by this instance; the repeat is ignored`);
      continue;
    }
    draft.trackInterfaces.push({ name: entry.keyword, weight });
  }
}

function convertUnicastPeers(log: DiagnosticLog, block: Statement, draft: InstanceDraft): void {
  for (const entry of blockOf(log, block)) {
    const ip = parseIpAddress(entry.keyword);
    if (!ip || unusableAddressReason(ip)) {
      log.dropped(entry, describe(entry), 'not a unicast IP address; peer ignored');
      continue;
    }
    if (draft.unicastPeers.includes(ip.address)) {
      log.note(entry, describe(entry), `peer ${ip.address} is already listed; the repeat is ignored`);
      continue;
    }
    const first = draft.unicastPeers[0];
    if (first !== undefined && parseIpAddress(first)?.family !== ip.family) {
      log.dropped(entry, describe(entry), `the first peer ${first} is IPv${parseIpAddress(first)?.family}: an instance sends adverts in one address family; peer ignored`);
      continue;
    }
    draft.unicastPeers.push(ip.address);
    if (entry.args.length > 0) log.dropped(entry, describe(entry), 'per-peer options (min_ttl/max_ttl) have no vipd equivalent');
  }
}

/** Apply one statement of a vrrp_instance; false when the keyword is not a VRRP setting. */
function applyInstanceStatement(
  log: DiagnosticLog,
  statement: Statement,
  draft: InstanceDraft,
  scripts: ReadonlyMap<string, ScriptDefinition>,
  notify: NotifyCollector,
): boolean {
  const garpRule = GARP_KEYWORDS[statement.keyword];
  if (garpRule) {
    const value = readNumber(log, statement, garpRule);
    if (value !== undefined) draft.garp[garpRule.key] = value;
    return true;
  }
  if (notify.accept(statement)) return true;
  switch (statement.keyword) {
    case 'state': {
      // vipd always starts as BACKUP and wins by priority; keepalived's
      // `state MASTER` skips the first Master_Down wait, and also changes
      // the default priority and preemption (settled in convertInstance).
      const state = statement.args[0];
      if (state === 'MASTER') draft.master = statement;
      else if (state !== 'BACKUP') log.note(statement, describe(statement), 'keepalived reads an unknown state as BACKUP');
      return true;
    }
    case 'strict_mode': {
      const value = statement.args[0]?.toLowerCase();
      if (value === undefined || ['true', 'on', 'yes'].includes(value)) draft.strict = statement;
      else if (['false', 'off', 'no'].includes(value)) draft.strict = undefined;
      else log.dropped(statement, describe(statement), 'needs on or off; ignored');
      return true;
    }
    case 'interface': draft.interface = readWord(log, statement) ?? draft.interface; return true;
    case 'virtual_router_id': draft.vrid = readNumber(log, statement, { ...LIMITS.vrid, integer: true }); return true;
    case 'priority': draft.priority = readNumber(log, statement, { ...LIMITS.priority, integer: true }) ?? draft.priority; return true;
    case 'advert_int': {
      const value = readNumber(log, statement, { min: 0.01, max: 255 });
      if (value !== undefined) draft.advertInterval = { value, at: statement };
      return true;
    }
    case 'version': {
      const version = readNumber(log, statement, { min: 2, max: 3, integer: true });
      if (version === 2 || version === 3) draft.version = version;
      return true;
    }
    case 'nopreempt': draft.nopreempt = statement; return true;
    case 'preempt': return true;
    case 'preempt_delay': {
      const value = readNumber(log, statement, LIMITS.preemptDelay);
      draft.preemptDelay = value ? { value, at: statement } : undefined;
      return true;
    }
    case 'authentication': convertAuthentication(log, statement, draft); return true;
    case 'unicast_src_ip': {
      const ip = parseIpAddress(statement.args[0] ?? '');
      if (ip) draft.unicastSource = ip.address;
      else log.dropped(statement, describe(statement), 'not an IP address; ignored');
      return true;
    }
    case 'unicast_peer': convertUnicastPeers(log, statement, draft); return true;
    case 'virtual_ipaddress': convertVirtualAddresses(log, statement, draft); return true;
    case 'track_interface': convertTrackInterfaces(log, statement, draft); return true;
    case 'track_script': convertTrackScripts(log, statement, draft, scripts); return true;
    case 'v3_checksum_as_v2': draft.checksumAsV2 = statement.args[0] !== 'false'; return true;
    case 'use_vmac':
      draft.vmac = true;
      if (statement.args.length > 0) {
        log.note(statement, describe(statement), 'vipd makes no VMAC interface (it answers with the virtual MAC from XDP and holds it in the interface\'s unicast filter): the name is not used');
      }
      return true;
    case 'vmac_xmit_base':
      log.note(statement, describe(statement), 'vipd sends adverts on the interface itself, from the virtual MAC; nothing to convert');
      return true;
    default: return false;
  }
}

/** keepalived's silent adjustments, made explicit: v2 is IPv4 only and counts whole seconds. */
function settleVersionAndInterval(log: DiagnosticLog, block: Statement, draft: InstanceDraft): number {
  if (draft.version === 2 && draft.vipFamilies.has(6)) {
    log.note(block, `${describe(block)} version 2`, 'IPv6 VIPs need VRRPv3, as keepalived also decides; converted as version 3');
    draft.version = 3;
  }
  const interval = draft.advertInterval;
  if (!interval) return 1;
  if (draft.version === 2 && !Number.isInteger(interval.value)) {
    const rounded = Math.max(1, Math.round(interval.value));
    log.dropped(interval.at, describe(interval.at), `VRRPv2 counts whole seconds; converted as ${rounded}`);
    return rounded;
  }
  const centis = Math.round(interval.value * 100);
  if (draft.version === 3 && (centis > 4095 || Math.abs(centis - interval.value * 100) > 1e-6)) {
    const value = Math.min(centis, 4095) / 100;
    log.dropped(interval.at, describe(interval.at), `VRRPv3 carries 0.01..40.95 s in 10 ms steps; converted as ${value}`);
    return value;
  }
  return interval.value;
}

/**
 * Priority and preemption as keepalived settles them: state MASTER without
 * a priority is the address owner (255); nopreempt and preempt_delay do not
 * apply to an initial MASTER, nopreempt not to priority 255, preempt_delay
 * not in strict mode nor with nopreempt. Strict mode also demotes a MASTER that is not the owner.
 */
function settlePreemption(log: DiagnosticLog, draft: InstanceDraft): { priority: number; preempt: boolean; preemptDelay: number } {
  if (draft.priority === undefined && draft.master) {
    log.note(draft.master, describe(draft.master), 'no priority: keepalived makes an initial MASTER the address owner (priority 255), and so does the converted config');
  }
  const priority = draft.priority ?? (draft.master ? LIMITS.priority.max : 100);
  const master = draft.master !== undefined && (!draft.strict || priority === LIMITS.priority.max);
  let preempt = draft.nopreempt === undefined;
  if (draft.nopreempt && priority === LIMITS.priority.max) {
    log.note(draft.nopreempt, 'nopreempt', 'keepalived ignores nopreempt at priority 255 (the address owner always preempts); not converted');
    preempt = true;
  } else if (draft.nopreempt && master) {
    log.note(draft.nopreempt, 'nopreempt', `keepalived ignores nopreempt with state MASTER (${draft.master?.file}:${draft.master?.line}); not converted, the instance preempts as it does in keepalived`);
    preempt = true;
  }
  let preemptDelay = draft.preemptDelay?.value ?? 0;
  if (draft.preemptDelay && master) {
    log.note(draft.preemptDelay.at, describe(draft.preemptDelay.at), `keepalived ignores preempt_delay with state MASTER (${draft.master?.file}:${draft.master?.line}); not converted`);
    preemptDelay = 0;
  } else if (draft.preemptDelay && draft.strict) {
    log.note(draft.preemptDelay.at, describe(draft.preemptDelay.at), `keepalived ignores preempt_delay in strict mode (${draft.strict.file}:${draft.strict.line}); not converted`);
    preemptDelay = 0;
  } else if (draft.preemptDelay && !preempt) {
    log.note(draft.preemptDelay.at, describe(draft.preemptDelay.at), 'keepalived ignores preempt_delay with nopreempt; not converted');
    preemptDelay = 0;
  }
  return { priority, preempt, preemptDelay };
}

export function convertInstance(
  log: DiagnosticLog,
  block: Statement,
  globals: VrrpGlobals,
  scripts: ReadonlyMap<string, ScriptDefinition>,
  commands: CommandReader,
): InstanceYaml | undefined {
  const rawName = block.args[0];
  if (rawName === undefined) {
    log.dropped(block, 'vrrp_instance', 'needs a name; instance not converted');
    return undefined;
  }
  const draft: InstanceDraft = {
    name: vipdName(log, block, rawName), version: globals.version, unicastPeers: [], ...(globals.strict ? { strict: globals.strict } : {}),
    checksumAsV2: globals.checksumAsV2, vmac: false, vips: [], vipFamilies: new Set(), garp: { ...globals.garp },
    trackInterfaces: [], trackScripts: [],
  };
  const notify = new NotifyCollector(log, commands);
  const statements = blockOf(log, block);
  // `interface` first: virtual_ipaddress compares its `dev` option with it.
  for (const statement of [...statements].sort((a, b) => Number(b.keyword === 'interface') - Number(a.keyword === 'interface'))) {
    if (!applyInstanceStatement(log, statement, draft, scripts, notify)) {
      reportUnhandled(log, statement, 'vrrp_instance', INSTANCE_UNSUPPORTED, INSTANCE_KEYWORDS);
    }
  }
  const missing = [draft.interface ? '' : 'interface', draft.vrid !== undefined ? '' : 'virtual_router_id', draft.vips.length ? '' : 'virtual_ipaddress'].filter(Boolean);
  if (missing.length > 0) {
    log.dropped(block, describe(block), `has no usable ${missing.join(', ')}; instance not converted`);
    return undefined;
  }
  const advertInterval = settleVersionAndInterval(log, block, draft);
  if (draft.auth && draft.strict) {
    log.note(draft.auth.at, 'authentication', `keepalived ignores authentication in strict mode (${draft.strict.file}:${draft.strict.line}) and sends adverts without it; dropped so that vipd and keepalived accept each other's adverts`);
    draft.auth = undefined;
  }
  if (draft.auth && draft.version === 3) {
    log.dropped(draft.auth.at, 'authentication', 'VRRPv3 has no authentication (keepalived ignores it too); dropped');
    draft.auth = undefined;
  }
  if (draft.unicastSource && draft.unicastPeers.length === 0) {
    log.note(block, 'unicast_src_ip', 'without unicast_peer it has no effect; dropped');
    draft.unicastSource = undefined;
  }
  const { priority, preempt, preemptDelay } = settlePreemption(log, draft);
  const notifyYaml = notify.result();
  const track = {
    ...(draft.trackInterfaces.length ? { interfaces: draft.trackInterfaces } : {}),
    ...(draft.trackScripts.length ? { scripts: draft.trackScripts } : {}),
  };
  return {
    name: draft.name,
    interface: draft.interface ?? '',
    vrid: draft.vrid ?? 0,
    version: draft.version,
    priority,
    advertInterval,
    ...(preempt ? {} : { preempt: false }),
    ...(preemptDelay ? { preemptDelay } : {}),
    ...(draft.unicastSource ? { unicastSource: draft.unicastSource } : {}),
    ...(draft.unicastPeers.length ? { unicastPeers: draft.unicastPeers } : {}),
    ...(draft.auth ? { auth: { type: 'pass' as const, password: draft.auth.password } } : {}),
    ...(draft.checksumAsV2 && draft.version === 3 ? { checksumMode: 'v2' as const } : {}),
    vips: draft.vips,
    // keepalived always puts the VIPs on the interface while MASTER.
    addAddresses: true,
    ...(draft.vmac ? { vmac: true } : {}),
    ...(Object.keys(draft.garp).length ? { garp: draft.garp } : {}),
    ...(Object.keys(track).length ? { track } : {}),
    ...(notifyYaml ? { notify: notifyYaml } : {}),
  };
}

export function convertSyncGroup(log: DiagnosticLog, block: Statement, instanceNames: ReadonlyMap<string, string>, commands: CommandReader): SyncGroupYaml | undefined {
  const rawName = block.args[0];
  if (rawName === undefined) {
    log.dropped(block, 'vrrp_sync_group', 'needs a name; not converted');
    return undefined;
  }
  const members: string[] = [];
  const notify = new NotifyCollector(log, commands);
  for (const statement of blockOf(log, block)) {
    if (notify.accept(statement)) continue;
    if (statement.keyword === 'group') {
      for (const member of blockOf(log, statement)) {
        const name = instanceNames.get(member.keyword);
        if (name === undefined) log.dropped(member, member.keyword, 'no converted vrrp_instance has this name; left out of the group');
        else if (members.includes(name)) log.note(member, member.keyword, 'already a member of this group; the repeat is ignored');
        else members.push(name);
      }
    } else {
      reportUnhandled(log, statement, 'vrrp_sync_group', { smtp_alert: 'vipd sends no e-mail; use a notify command',
        global_tracking: 'vipd tracks per instance', sync_group_tracking_weight: 'vipd tracks per instance',
        track_interface: 'track per instance in vipd', track_script: 'track per instance in vipd' },
      ['group', 'notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify']);
    }
  }
  if (members.length === 0) {
    log.dropped(block, describe(block), 'no member instance was converted; group not converted');
    return undefined;
  }
  const notifyYaml = notify.result();
  return { name: vipdName(log, block, rawName), instances: members, ...(notifyYaml ? { notify: notifyYaml } : {}) };
}
