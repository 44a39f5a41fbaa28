/**
 * Config loading: YAML text -> validated Config, or every error at once.
 * Per-entry checks live in read-instance.ts / read-service.ts; the checks
 * that span entries (duplicates, references) are here.
 */
import { readFile } from 'node:fs/promises';
import { Document, LineCounter, parseDocument } from 'yaml';
import { parseConfigListenAddress } from './address.js';
import { checkCapacity } from './capacity.js';
import { sortConfigErrors, type ConfigError } from './errors.js';
import { readConnectionSync } from './read-connections.js';
import { readInstance, readIp, readName, readNotify } from './read-instance.js';
import { readService } from './read-service.js';
import {
  DEFAULTS,
  LIMITS,
  type BgpConfig,
  type ConnectionsConfig,
  type BgpPeer,
  type BpfConfig,
  type BpfMode,
  type Config,
  type ControlConfig,
  type InstanceConfig,
  type ServiceConfig,
  type SyncGroupConfig,
} from './schema.js';
import { parseSimpleYaml } from './yaml-fast.js';
import { FieldReader, type Field } from './yaml-reader.js';

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: ConfigError[] };

const TOP_KEYS = ['bpf', 'control', 'connections', 'bgp', 'instances', 'syncGroups', 'services'] as const;

/** "1GiB", "512 MiB", "64M" or a plain number of bytes. */
function readByteSize(reader: FieldReader, field: Field): number | undefined {
  const text = reader.text(field);
  if (text === undefined) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(|B|K|KiB|M|MiB|G|GiB|T|TiB)\s*$/.exec(text);
  const power = { '': 0, B: 0, K: 1, KiB: 1, M: 2, MiB: 2, G: 3, GiB: 3, T: 4, TiB: 4 } as const;
  if (!match) {
    reader.error(field, `"${text}" must be a size such as 512MiB or 2GiB (binary units: K, M, G, T)`);
    return undefined;
  }
  const bytes = Math.round(Number(match[1]) * 1024 ** power[match[2] as keyof typeof power]);
  if (bytes < 1024 ** 2) {
    reader.error(field, `"${text}" is below 1 MiB: the data plane cannot run in so little`);
    return undefined;
  }
  return bytes;
}

function readBpf(reader: FieldReader, field: Field | undefined): BpfConfig {
  const bpf: { pin: string; mode: BpfMode; maxMemory: number } = { ...DEFAULTS.bpf };
  const fields = field && reader.mapping(field, ['pin', 'mode', 'maxMemory']);
  if (!fields) return bpf;
  if (fields.pin) {
    const pin = reader.text(fields.pin);
    if (pin !== undefined && !pin.startsWith('/')) reader.error(fields.pin, 'must be an absolute path');
    else if (pin !== undefined) bpf.pin = pin;
  }
  if (fields.mode) bpf.mode = reader.oneOf<BpfMode>(fields.mode, ['auto', 'native', 'generic']) ?? bpf.mode;
  if (fields.maxMemory) bpf.maxMemory = readByteSize(reader, fields.maxMemory) ?? bpf.maxMemory;
  return bpf;
}

function readConnections(reader: FieldReader, field: Field | undefined): ConnectionsConfig {
  const d = DEFAULTS.connections;
  const fields = field && reader.mapping(field, ['max', 'pending', 'tcpTimeout', 'udpTimeout', 'sync']);
  if (!fields) return { ...d };
  const seconds = { ...LIMITS.flowTimeout, unit: 'seconds' };
  return {
    max: (fields.max && reader.number(fields.max, { ...LIMITS.connections, integer: true })) ?? d.max,
    pending: (fields.pending && reader.number(fields.pending, { ...LIMITS.pendingTags, integer: true })) ?? d.pending,
    tcpTimeout: (fields.tcpTimeout && reader.number(fields.tcpTimeout, seconds)) ?? d.tcpTimeout,
    udpTimeout: (fields.udpTimeout && reader.number(fields.udpTimeout, seconds)) ?? d.udpTimeout,
  };
}

function readControl(reader: FieldReader, field: Field | undefined): ControlConfig {
  let socket: string = DEFAULTS.control.socket;
  let metrics = parseConfigListenAddress(DEFAULTS.control.metrics) ?? { host: '127.0.0.1', port: 9477 };
  const fields = field && reader.mapping(field, ['socket', 'metrics', 'backendMetrics']);
  if (fields?.socket) {
    const text = reader.text(fields.socket);
    if (text !== undefined && !text.startsWith('/')) reader.error(fields.socket, 'must be an absolute path');
    else if (text !== undefined) socket = text;
  }
  if (fields?.metrics) {
    const text = reader.text(fields.metrics);
    const parsed = text === undefined ? undefined : parseConfigListenAddress(text);
    if (text !== undefined && !parsed) reader.error(fields.metrics, `"${text}" must be IP:PORT or [IPv6]:PORT`);
    if (parsed) metrics = parsed;
  }
  const backendMetrics = fields?.backendMetrics ? (reader.boolean(fields.backendMetrics) ?? true) : DEFAULTS.control.backendMetrics;
  return { socket, metrics, backendMetrics };
}

function readBgpPeer(reader: FieldReader, field: Field): BgpPeer | undefined {
  const fields = reader.mapping(field, ['address', 'asn', 'bfd', 'holdTime']);
  if (!fields) return undefined;
  const addressField = reader.required(field, fields, 'address');
  const address = addressField ? readIp(reader, addressField) : undefined;
  const asnField = reader.required(field, fields, 'asn');
  const asn = asnField ? reader.number(asnField, { ...LIMITS.asn, integer: true }) : undefined;
  const bfd = fields.bfd ? reader.boolean(fields.bfd) : DEFAULTS.bgp.bfd;
  const holdTime = fields.holdTime
    ? reader.number(fields.holdTime, { ...LIMITS.holdTime, integer: true, unit: 'seconds' })
    : DEFAULTS.bgp.holdTime;
  if (!address || asn === undefined || bfd === undefined || holdTime === undefined) return undefined;
  return { address, asn, bfd, holdTime };
}

function readBgp(reader: FieldReader, field: Field | undefined): BgpConfig | undefined {
  if (!field) return undefined;
  const fields = reader.mapping(field, ['asn', 'routerId', 'peers', 'gracePeriod', 'runDir']);
  if (!fields) return undefined;
  const asnField = reader.required(field, fields, 'asn');
  const asn = asnField ? reader.number(asnField, { ...LIMITS.asn, integer: true }) : undefined;
  const routerIdField = reader.required(field, fields, 'routerId');
  const routerId = routerIdField ? readIp(reader, routerIdField) : undefined;
  if (routerIdField && routerId && routerId.family !== 4) reader.error(routerIdField, 'must be an IPv4 address (a BGP router id is 32 bits)');
  const peersField = reader.required(field, fields, 'peers');
  const peers: BgpPeer[] = [];
  const seen = new Set<string>();
  for (const item of (peersField && reader.list(peersField)) || []) {
    const peer = readBgpPeer(reader, item);
    if (!peer) continue;
    if (seen.has(peer.address.address)) reader.error(item, `peer ${peer.address.address} is listed twice`);
    seen.add(peer.address.address);
    peers.push(peer);
  }
  if (peersField && peers.length === 0 && reader.errors.length === 0) reader.error(peersField, 'needs at least one peer');
  const gracePeriod = fields.gracePeriod
    ? reader.number(fields.gracePeriod, { min: 0, max: 300, unit: 'seconds' })
    : DEFAULTS.bgp.gracePeriod;
  let runDir: string = DEFAULTS.bgp.runDir;
  if (fields.runDir) {
    const text = reader.text(fields.runDir);
    if (text !== undefined && !text.startsWith('/')) reader.error(fields.runDir, 'must be an absolute path');
    else if (text !== undefined) runDir = text;
  }
  if (asn === undefined || !routerId || routerId.family !== 4 || gracePeriod === undefined) return undefined;
  return { asn, routerId: routerId.address, peers, gracePeriod, runDir };
}

function readSyncGroups(
  reader: FieldReader,
  field: Field | undefined,
  instanceNames: ReadonlySet<string>,
  bgpOnly: ReadonlySet<string> = new Set(),
): SyncGroupConfig[] {
  const groups: SyncGroupConfig[] = [];
  const groupOf = new Map<string, string>();
  for (const item of (field && reader.list(field)) || []) {
    const fields = reader.mapping(item, ['name', 'instances', 'notify']);
    if (!fields) continue;
    const nameField = reader.required(item, fields, 'name');
    const name = nameField ? readName(reader, nameField) : undefined;
    const membersField = reader.required(item, fields, 'instances');
    const members: string[] = [];
    for (const memberField of (membersField && reader.list(membersField)) || []) {
      const member = reader.text(memberField);
      if (member === undefined) continue;
      if (!instanceNames.has(member)) reader.error(memberField, `no instance is named "${member}"`);
      else if (bgpOnly.has(member)) reader.error(memberField, `instance "${member}" has announce: bgp: it has no VRRP state to sync`);
      else if (groupOf.has(member)) reader.error(memberField, `instance "${member}" is already in sync group "${groupOf.get(member)}"`);
      groupOf.set(member, name ?? '?');
      members.push(member);
    }
    if (membersField && members.length === 0) reader.error(membersField, 'needs at least one instance');
    const notify = readNotify(reader, fields.notify);
    if (name !== undefined) groups.push({ name, instances: members, notify });
  }
  return groups;
}

/** Two instances clash when they share interface and VRID and speak for the same address family. */
function checkInstanceClashes(reader: FieldReader, instances: readonly { field: Field; instance: InstanceConfig }[]): void {
  const vipOwner = new Map<string, string>();
  for (const [index, { field, instance }] of instances.entries()) {
    for (const { instance: earlier } of instances.slice(0, index)) {
      if (instance.announce === 'bgp' || earlier.announce === 'bgp') continue;
      if (earlier.interface !== instance.interface || earlier.vrid !== instance.vrid) continue;
      const families = new Set(earlier.vips.map((v) => v.family));
      if (instance.vips.some((v) => families.has(v.family))) {
        reader.error(
          { path: `${field.path}.vrid`, offset: field.offset },
          `vrid ${instance.vrid} on ${instance.interface} is already used by instance "${earlier.name}"`,
        );
      }
    }
    for (const vip of instance.vips) {
      const owner = vipOwner.get(vip.address);
      if (owner !== undefined) {
        reader.error({ path: `${field.path}.vips`, offset: field.offset }, `${vip.address} is already a VIP of instance "${owner}"`);
      }
      vipOwner.set(vip.address, instance.name);
    }
  }
}

function checkServiceClashes(reader: FieldReader, services: readonly { field: Field; service: ServiceConfig }[]): void {
  const byName = new Map<string, ServiceConfig>();
  const byEndpoint = new Map<string, ServiceConfig>();
  for (const { field, service } of services) {
    const endpoint = `${service.vip} ${service.port} ${service.protocol}`;
    const sameEndpoint = byEndpoint.get(endpoint);
    if (sameEndpoint) {
      reader.error(field, `${service.vip} port ${service.port}/${service.protocol} is already service "${sameEndpoint.name}"`);
    } else if (byName.has(service.name)) {
      reader.error(field, `service name "${service.name}" is used twice`);
    }
    byName.set(service.name, service);
    byEndpoint.set(endpoint, service);
  }
}

function readConfig(reader: FieldReader): Config | undefined {
  const root = reader.root();
  if (root.node === null) {
    reader.error(root, 'the config is empty: it needs at least "instances"');
    return undefined;
  }
  const fields = reader.mapping(root, TOP_KEYS);
  if (!fields) return undefined;
  const bpf = readBpf(reader, fields.bpf);
  const control = readControl(reader, fields.control);
  const connections = readConnections(reader, fields.connections);
  const bgp = readBgp(reader, fields.bgp);

  const instanceLookup = new Map<string, InstanceConfig | undefined>();
  const instances: { field: Field; instance: InstanceConfig }[] = [];
  const instancesField = reader.required(root, fields, 'instances');
  const instanceItems = (instancesField && reader.list(instancesField)) || [];
  if (instancesField && instanceItems.length === 0) reader.error(instancesField, 'needs at least one instance');
  for (const item of instanceItems) {
    const { name, instance } = readInstance(reader, item, fields.bgp !== undefined);
    if (name === undefined) continue;
    if (instanceLookup.has(name)) {
      reader.error({ path: `${item.path}.name`, offset: item.offset }, `instance name "${name}" is used twice`);
      continue;
    }
    instanceLookup.set(name, instance);
    if (instance) instances.push({ field: item, instance });
  }
  checkInstanceClashes(reader, instances);
  // connections.sync may take its key from an instance's auth: read once the instances are.
  const syncField = fields.connections && reader.peek(fields.connections, 'sync');
  const sync = syncField && readConnectionSync(reader, syncField, instances.map((e) => e.instance));

  const bgpOnly = new Set(instances.filter((e) => e.instance.announce === 'bgp').map((e) => e.instance.name));
  const syncGroups = readSyncGroups(reader, fields.syncGroups, new Set(instanceLookup.keys()), bgpOnly);
  const services: { field: Field; service: ServiceConfig }[] = [];
  for (const item of (fields.services && reader.list(fields.services)) || []) {
    const service = readService(reader, item, instanceLookup);
    if (service) services.push({ field: item, service });
  }
  checkServiceClashes(reader, services);
  checkCapacity(
    reader,
    { field: fields.bpf?.node ? fields.bpf : root, maxMemory: bpf.maxMemory, connections },
    instances.map(({ field, instance }) => ({ field, value: instance })),
    services.map(({ field, service }) => ({ field, value: service })),
  );
  return {
    bpf,
    control,
    connections: { ...connections, ...(sync ? { sync } : {}) },
    ...(bgp ? { bgp } : {}),
    instances: instances.map((entry) => entry.instance),
    syncGroups,
    services: services.map((entry) => entry.service),
  };
}

function documentOf(contents: Document['contents']): Document {
  const doc = new Document();
  doc.contents = contents;
  return doc;
}

/**
 * Validate config text; `fileName` is only used to locate errors.
 * opts.fastYaml false: always the yaml library (tests compare the two readers).
 */
export function parseConfig(text: string, fileName: string, opts: { fastYaml?: boolean } = {}): ConfigResult {
  const lineCounter = new LineCounter();
  // The plain YAML configs are written in is read by yaml-fast.ts (10 000
  // services: ~5x less CPU than the library); anything else by the library.
  const simple = opts.fastYaml === false ? undefined : parseSimpleYaml(text, lineCounter);
  const doc = simple ? documentOf(simple.contents) : parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const reader = new FieldReader(doc, lineCounter, fileName);
  for (const problem of doc.errors) reader.syntaxError(problem.pos[0], problem.message);
  // A syntax error leaves no trustworthy tree to validate; a duplicate key does.
  const treeIsSound = doc.errors.every((problem) => problem.code === 'DUPLICATE_KEY');
  const config = treeIsSound ? readConfig(reader) : undefined;
  if (reader.errors.length > 0 || !config) return { ok: false, errors: sortConfigErrors(reader.errors) };
  return { ok: true, config };
}

export async function loadConfig(file: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, errors: [{ keyPath: '', file, line: 1, column: 1, message: `cannot read the config: ${reason}` }] };
  }
  return parseConfig(text, file);
}
