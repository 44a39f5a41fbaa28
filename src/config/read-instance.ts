/** Reads and checks one `instances[i]` entry (VRRP instance, or a VIP group announced over BGP). */
import { isSeq } from 'yaml';
import { parseCidr, parseIpAddress, unusableAddressReason } from './address.js';
import {
  DEFAULTS,
  LIMITS,
  type AnnounceMode,
  type GarpConfig,
  type InstanceConfig,
  type IpAddress,
  type NotifyConfig,
  type PasswordAuth,
  type TrackConfig,
  type TrackInterface,
  type TrackScript,
  type VirtualAddress,
  type VrrpVersion,
} from './schema.js';
import type { Field, FieldReader } from './yaml-reader.js';
import { readBfd } from '../bfd/read-config.js';

const INSTANCE_KEYS = [
  'name', 'interface', 'announce', 'vrid', 'version', 'priority', 'advertInterval', 'preempt', 'preemptDelay',
  'unicastPeers', 'unicastSource', 'auth', 'checksumMode', 'vips', 'addAddresses', 'vmac', 'advertSocket', 'garp', 'track', 'notify', 'bfd',
] as const;

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

export function readName(reader: FieldReader, field: Field): string | undefined {
  const name = reader.text(field);
  if (name === undefined) return undefined;
  if (name.length > LIMITS.nameLength || !NAME_PATTERN.test(name)) {
    reader.error(field, `"${name}" is not a valid name: letters, digits, _ . : - (at most ${LIMITS.nameLength}), starting with a letter or digit`);
    return undefined;
  }
  return name;
}

function readInterfaceName(reader: FieldReader, field: Field): string | undefined {
  const name = reader.text(field);
  if (name === undefined) return undefined;
  if (name.length > LIMITS.interfaceNameLength || /[\s/]/.test(name)) {
    reader.error(field, `"${name}" is not a Linux interface name (at most 15 characters, no spaces or "/")`);
    return undefined;
  }
  return name;
}

/** Address text -> its usable parse: 10 000 services on ten real servers name each one 10 000 times. */
const usableIps = new Map<string, IpAddress>();
/** Entries usableIps keeps at most (it starts afresh past this). */
const USABLE_IPS_MAX = 1 << 16;

export function readIp(reader: FieldReader, field: Field): IpAddress | undefined {
  const text = reader.text(field);
  if (text === undefined) return undefined;
  const known = usableIps.get(text);
  if (known) return { ...known };
  const ip = parseIpAddress(text);
  if (!ip) {
    reader.error(field, `"${text}" is not an IPv4 or IPv6 address${text.includes('/') ? ' (no prefix length here)' : ''}`);
    return undefined;
  }
  const unusable = unusableAddressReason(ip);
  if (unusable) {
    reader.error(field, `"${text}" is ${unusable}`);
    return undefined;
  }
  if (usableIps.size >= USABLE_IPS_MAX) usableIps.clear();
  usableIps.set(text, { ...ip });
  return ip;
}

/**
 * v3 intervals travel as centiseconds, v2 as whole seconds: anything the
 * wire cannot carry exactly is refused instead of silently rounded.
 */
function readAdvertInterval(reader: FieldReader, field: Field, version: VrrpVersion): number | undefined {
  if (version === 2) {
    return reader.number(field, { ...LIMITS.advertIntervalV2, integer: true, unit: 'seconds (VRRPv2: whole seconds)' });
  }
  const seconds = reader.number(field, { ...LIMITS.advertIntervalV3, unit: 'seconds' });
  if (seconds === undefined) return undefined;
  const centis = seconds * 100;
  if (Math.abs(centis - Math.round(centis)) > 1e-6) {
    reader.error(field, `must be a multiple of 0.01 seconds (VRRPv3 counts centiseconds), got ${seconds}`);
    return undefined;
  }
  return seconds;
}

export function readNotify(reader: FieldReader, field: Field | undefined): NotifyConfig {
  if (!field) return {};
  const fields = reader.mapping(field, ['master', 'backup', 'fault', 'stop']);
  if (!fields) return {};
  const notify: { -readonly [K in keyof NotifyConfig]: NotifyConfig[K] } = {};
  for (const key of ['master', 'backup', 'fault', 'stop'] as const) {
    const entry = fields[key];
    if (!entry) continue;
    const argv = reader.argv(entry, true);
    if (argv && argv.length > 0) notify[key] = argv;
  }
  return notify;
}

function readGarp(reader: FieldReader, field: Field | undefined): GarpConfig {
  const garp: { -readonly [K in keyof GarpConfig]: GarpConfig[K] } = { ...DEFAULTS.garp };
  if (!field) return garp;
  const fields = reader.mapping(field, ['repeat', 'interval', 'delay', 'refresh']);
  if (!fields) return garp;
  if (fields.repeat) garp.repeat = reader.number(fields.repeat, { min: 1, max: 100, integer: true }) ?? garp.repeat;
  if (fields.interval) garp.interval = reader.number(fields.interval, { min: 0, max: 10, unit: 'seconds' }) ?? garp.interval;
  if (fields.delay) garp.delay = reader.number(fields.delay, { min: 0, max: 3600, unit: 'seconds' }) ?? garp.delay;
  if (fields.refresh) garp.refresh = reader.number(fields.refresh, { min: 0, max: 86400, unit: 'seconds' }) ?? garp.refresh;
  return garp;
}

function readAuth(reader: FieldReader, field: Field, version: VrrpVersion | undefined): PasswordAuth | undefined {
  const fields = reader.mapping(field, ['type', 'password']);
  if (!fields) return undefined;
  if (version === 3) {
    reader.error(field, 'authentication exists only in VRRPv2 (RFC 9568 removed it); set version: 2 or remove auth');
  }
  const typeField = reader.required(field, fields, 'type');
  if (typeField && reader.text(typeField) !== 'pass') {
    reader.error(typeField, 'must be "pass": the only VRRPv2 authentication vipd supports (AH is not)');
  }
  const passwordField = reader.required(field, fields, 'password');
  const password = passwordField ? reader.text(passwordField) : undefined;
  if (passwordField && password !== undefined && Buffer.byteLength(password) > LIMITS.passwordBytes) {
    reader.error(passwordField, `must be at most ${LIMITS.passwordBytes} bytes (the v2 auth data field), got ${Buffer.byteLength(password)}`);
    return undefined;
  }
  return password === undefined ? undefined : { type: 'pass', password };
}

function readTrackInterface(reader: FieldReader, field: Field): TrackInterface | undefined {
  const fields = reader.mapping(field, ['name', 'weight']);
  if (!fields) return undefined;
  const nameField = reader.required(field, fields, 'name');
  const name = nameField ? readInterfaceName(reader, nameField) : undefined;
  const weight = fields.weight ? reader.number(fields.weight, { ...LIMITS.trackWeight, integer: true }) : DEFAULTS.trackInterfaceWeight;
  return name === undefined || weight === undefined ? undefined : { name, weight };
}

function readTrackScript(reader: FieldReader, field: Field): TrackScript | undefined {
  const fields = reader.mapping(field, ['name', 'command', 'interval', 'timeout', 'weight', 'rise', 'fall']);
  if (!fields) return undefined;
  const nameField = reader.required(field, fields, 'name');
  const name = nameField ? readName(reader, nameField) : undefined;
  const commandField = reader.required(field, fields, 'command');
  const command = commandField ? reader.argv(commandField, false) : undefined;
  const defaults = DEFAULTS.trackScript;
  const interval = fields.interval ? reader.number(fields.interval, { min: 0.01, max: 3600, unit: 'seconds' }) : defaults.interval;
  const timeout = fields.timeout ? reader.number(fields.timeout, { min: 0.01, max: 3600, unit: 'seconds' }) : interval;
  const weight = fields.weight ? reader.number(fields.weight, { ...LIMITS.trackWeight, integer: true }) : defaults.weight;
  const rise = fields.rise ? reader.number(fields.rise, { min: 1, max: 100, integer: true }) : defaults.rise;
  const fall = fields.fall ? reader.number(fields.fall, { min: 1, max: 100, integer: true }) : defaults.fall;
  if (name === undefined || command === undefined || interval === undefined || timeout === undefined ||
    weight === undefined || rise === undefined || fall === undefined) return undefined;
  return { name, command, interval, timeout, weight, rise, fall };
}

function readTrack(reader: FieldReader, field: Field | undefined): TrackConfig {
  const track: { interfaces: TrackInterface[]; scripts: TrackScript[] } = { interfaces: [], scripts: [] };
  if (!field) return track;
  const fields = reader.mapping(field, ['interfaces', 'scripts']);
  if (!fields) return track;
  for (const item of (fields.interfaces && reader.list(fields.interfaces)) || []) {
    const tracked = readTrackInterface(reader, item);
    if (tracked) track.interfaces.push(tracked);
  }
  const scriptNames = new Set<string>();
  for (const item of (fields.scripts && reader.list(fields.scripts)) || []) {
    const script = readTrackScript(reader, item);
    if (!script) continue;
    if (scriptNames.has(script.name)) reader.error(item, `track script "${script.name}" is listed twice`);
    scriptNames.add(script.name);
    track.scripts.push(script);
  }
  return track;
}

function readVips(reader: FieldReader, field: Field, version: VrrpVersion | undefined): VirtualAddress[] {
  const vips: VirtualAddress[] = [];
  const items = reader.list(field);
  if (!items) return vips;
  if (items.length === 0) reader.error(field, 'needs at least one virtual address');
  const seen = new Set<string>();
  for (const item of items) {
    const text = reader.text(item);
    if (text === undefined) continue;
    const parsed = parseCidr(text);
    if (!parsed.ok) {
      reader.error(item, parsed.reason);
      continue;
    }
    if (parsed.value.family === 6 && version === 2) {
      reader.error(item, `IPv6 address ${parsed.value.address} needs version: 3 (VRRPv2 is IPv4 only)`);
    }
    if (seen.has(parsed.value.address)) reader.error(item, `${parsed.value.address} is listed twice`);
    seen.add(parsed.value.address);
    vips.push(parsed.value);
  }
  return vips;
}

function readUnicast(
  reader: FieldReader,
  peersField: Field | undefined,
  sourceField: Field | undefined,
): { peers: IpAddress[]; source?: IpAddress } {
  const peers: IpAddress[] = [];
  const seen = new Set<string>();
  for (const item of (peersField && reader.list(peersField)) || []) {
    const ip = readIp(reader, item);
    if (!ip) continue;
    if (seen.has(ip.address)) reader.error(item, `peer ${ip.address} is listed twice`);
    else if (peers[0] && peers[0].family !== ip.family) reader.error(item, 'all unicast peers must be of one address family');
    seen.add(ip.address);
    peers.push(ip);
  }
  const source = sourceField ? readIp(reader, sourceField) : undefined;
  if (sourceField && source) {
    if (peers.length === 0) reader.error(sourceField, 'unicastSource is used only with unicastPeers');
    else if (peers[0] && peers[0].family !== source.family) reader.error(sourceField, 'must be of the same address family as the unicast peers');
  }
  return source ? { peers, source } : { peers };
}

/** `announce: vrrp | bgp`, or the list `[vrrp, bgp]` (VRRP, and BGP while MASTER). */
function readAnnounce(reader: FieldReader, field: Field): AnnounceMode | undefined {
  if (!isSeq(field.node)) return reader.oneOf<AnnounceMode>(field, ['vrrp', 'bgp']);
  const modes = new Set<string>();
  for (const item of reader.list(field) ?? []) {
    const mode = reader.oneOf(item, ['vrrp', 'bgp'] as const);
    if (mode) modes.add(mode);
  }
  if (modes.size === 2) return 'vrrp+bgp';
  if (modes.size === 1) return [...modes][0] as AnnounceMode;
  reader.error(field, 'needs vrrp, bgp or [vrrp, bgp]');
  return undefined;
}

/**
 * The instance, or only its name when something in it is wrong: the name
 * still lets services refer to it without a second, misleading error.
 */
export interface InstanceReadResult {
  readonly name?: string;
  readonly instance?: InstanceConfig;
}

/** `bgpConfigured`: the config has a top-level `bgp` (an instance announced over BGP needs it). */
export function readInstance(reader: FieldReader, field: Field, bgpConfigured = false): InstanceReadResult {
  const fields = reader.mapping(field, INSTANCE_KEYS);
  if (!fields) return {};
  const d = DEFAULTS.instance;
  const nameField = reader.required(field, fields, 'name');
  const name = nameField ? readName(reader, nameField) : undefined;
  const interfaceField = reader.required(field, fields, 'interface');
  const interfaceName = interfaceField ? readInterfaceName(reader, interfaceField) : undefined;
  const announce = fields.announce ? readAnnounce(reader, fields.announce) : d.announce;
  if (fields.announce && announce && announce !== 'vrrp' && !bgpConfigured) {
    reader.error(fields.announce, `announce: ${announce} needs the top-level bgp (asn, routerId, peers) that says whom to announce to`);
  }
  // A BGP-only group elects nothing: no VRID (and none of the VRRP keys matter).
  let vrid: number | undefined = 0;
  if (announce !== 'bgp') {
    const vridField = reader.required(field, fields, 'vrid');
    vrid = vridField ? reader.number(vridField, { ...LIMITS.vrid, integer: true }) : undefined;
  } else if (fields.vrid) {
    reader.error(fields.vrid, 'an announce: bgp instance has no VRRP election: remove vrid (or use announce: [vrrp, bgp])');
  }
  const version = fields.version ? reader.oneOf<VrrpVersion>(fields.version, [2, 3]) : d.version;
  const priority = fields.priority ? reader.number(fields.priority, { ...LIMITS.priority, integer: true }) : d.priority;
  let advertInterval: number | undefined = d.advertInterval;
  if (fields.advertInterval && version !== undefined) advertInterval = readAdvertInterval(reader, fields.advertInterval, version);
  const preempt = fields.preempt ? reader.boolean(fields.preempt) : d.preempt;
  const preemptDelay = fields.preemptDelay
    ? reader.number(fields.preemptDelay, { ...LIMITS.preemptDelay, unit: 'seconds' })
    : d.preemptDelay;
  const unicast = readUnicast(reader, fields.unicastPeers, fields.unicastSource);
  const auth = fields.auth ? readAuth(reader, fields.auth, version) : undefined;
  const checksumMode = fields.checksumMode ? reader.oneOf(fields.checksumMode, ['rfc', 'v2'] as const) : d.checksumMode;
  const vipsField = reader.required(field, fields, 'vips');
  const vips = vipsField ? readVips(reader, vipsField, version) : [];
  const addAddresses = fields.addAddresses ? reader.boolean(fields.addAddresses) : d.addAddresses;
  const vmac = fields.vmac ? reader.boolean(fields.vmac) : d.vmac;
  const advertSocket = fields.advertSocket ? reader.oneOf(fields.advertSocket, ['packet', 'ip'] as const) : d.advertSocket;
  const garp = readGarp(reader, fields.garp);
  const track = readTrack(reader, fields.track);
  const notify = readNotify(reader, fields.notify);
  if (fields.bfd && announce === 'bgp') reader.error(fields.bfd, 'BFD here follows a VRRP election: an announce: bgp instance has none (BGP sessions take bgp.peers[].bfd)');
  const bfd = fields.bfd && announce !== 'bgp' ? readBfd(reader, fields.bfd, { unicastPeers: unicast.peers, readIp: (f) => readIp(reader, f) }) : undefined;

  if (name === undefined || interfaceName === undefined || announce === undefined || vrid === undefined || version === undefined ||
    priority === undefined || advertInterval === undefined || preempt === undefined ||
    preemptDelay === undefined || checksumMode === undefined || addAddresses === undefined || vmac === undefined || advertSocket === undefined ||
    vips.length === 0) {
    return name === undefined ? {} : { name };
  }
  const instance: InstanceConfig = {
    name,
    interface: interfaceName,
    announce,
    vrid,
    version,
    priority,
    advertInterval,
    advertIntervalCentis: Math.round(advertInterval * 100),
    preempt,
    preemptDelay,
    unicastPeers: unicast.peers,
    ...(unicast.source ? { unicastSource: unicast.source } : {}),
    ...(auth ? { auth } : {}),
    checksumMode,
    vips,
    addAddresses,
    vmac,
    advertSocket,
    garp,
    track,
    notify,
    ...(bfd ? { bfd } : {}),
  };
  return { name, instance };
}
