/** Reads and checks one `services[i]` entry: VIP:port, backends, health check. */
import { formatHostPort } from './address.js';
import { readIp, readName } from './read-instance.js';
import {
  DEFAULTS,
  LIMITS,
  type BackendConfig,
  type HealthCheckConfig,
  type HealthCheckType,
  type InstanceConfig,
  type PersistenceConfig,
  type ServiceConfig,
  type ServiceProtocol,
} from './schema.js';
import type { Field, FieldReader } from './yaml-reader.js';

const SERVICE_KEYS = ['name', 'vip', 'port', 'protocol', 'instance', 'backends', 'healthCheck', 'persistence'] as const;

const CHECK_TIMING_KEYS = ['type', 'interval', 'timeout', 'rise', 'fall'] as const;
const CHECK_KEYS: Record<HealthCheckType, readonly string[]> = {
  tcp: [...CHECK_TIMING_KEYS, 'port'],
  http: [...CHECK_TIMING_KEYS, 'port', 'path', 'expectStatus', 'host'],
  https: [...CHECK_TIMING_KEYS, 'port', 'path', 'expectStatus', 'host', 'tlsVerify'],
  command: [...CHECK_TIMING_KEYS, 'command'],
};
const CHECK_TYPES = Object.keys(CHECK_KEYS) as HealthCheckType[];

/** What a service may refer to: instances by name (undefined when the instance itself is invalid). */
export type InstanceLookup = ReadonlyMap<string, InstanceConfig | undefined>;

function readHealthCheck(reader: FieldReader, field: Field): HealthCheckConfig | undefined {
  // `type` decides which other keys are allowed, so it is read first.
  const typeField = reader.peek(field, 'type');
  const type = typeField ? reader.oneOf(typeField, CHECK_TYPES) : undefined;
  if (type === undefined) {
    if (!typeField) reader.error(field, `"type" is required: one of ${CHECK_TYPES.join(', ')}`);
    reader.mapping(field, [...new Set(Object.values(CHECK_KEYS).flat())]);
    return undefined;
  }
  const errorsBefore = reader.errors.length;
  const fields = reader.mapping(field, CHECK_KEYS[type]);
  if (!fields) return undefined;
  const d = DEFAULTS.healthCheck;
  const seconds = { min: 0.01, max: 3600, unit: 'seconds' };
  const count = { min: 1, max: 100, integer: true };
  const timing = {
    interval: fields.interval ? reader.number(fields.interval, seconds) : d.interval,
    timeout: fields.timeout ? reader.number(fields.timeout, seconds) : d.timeout,
    rise: fields.rise ? reader.number(fields.rise, count) : d.rise,
    fall: fields.fall ? reader.number(fields.fall, count) : d.fall,
  };
  const port = fields.port ? reader.number(fields.port, { ...LIMITS.port, integer: true }) : undefined;
  const portPart = port === undefined ? {} : { port };
  if (timing.interval === undefined || timing.timeout === undefined || timing.rise === undefined || timing.fall === undefined) {
    return undefined;
  }
  const base = { interval: timing.interval, timeout: timing.timeout, rise: timing.rise, fall: timing.fall };
  if (type === 'command') {
    const commandField = reader.required(field, fields, 'command');
    const command = commandField ? reader.argv(commandField, false) : undefined;
    return command ? { type, ...base, command } : undefined;
  }
  if (type === 'tcp') return reader.errors.length === errorsBefore ? { type, ...base, ...portPart } : undefined;
  let path: string = d.path;
  if (fields.path) {
    const text = reader.text(fields.path);
    if (text !== undefined && !text.startsWith('/')) reader.error(fields.path, `must start with "/", got "${text}"`);
    else if (text !== undefined) path = text;
  }
  const expectStatus = fields.expectStatus
    ? reader.number(fields.expectStatus, { min: 100, max: 599, integer: true })
    : d.expectStatus;
  const host = fields.host ? reader.text(fields.host) : undefined;
  const tlsVerify = fields.tlsVerify ? reader.boolean(fields.tlsVerify) : d.tlsVerify;
  if (expectStatus === undefined || tlsVerify === undefined) return undefined;
  return { type, ...base, ...portPart, path, expectStatus, tlsVerify, ...(host === undefined ? {} : { host }) };
}

function readBackends(reader: FieldReader, field: Field, vipFamily: 4 | 6 | undefined): BackendConfig[] {
  const backends: BackendConfig[] = [];
  const items = reader.list(field);
  if (!items) return backends;
  if (items.length === 0) reader.error(field, 'needs at least one backend');
  const seen = new Set<string>();
  for (const item of items) {
    const fields = reader.mapping(item, ['address', 'weight', 'healthCheck']);
    if (!fields) continue;
    const addressField = reader.required(item, fields, 'address');
    const ip = addressField ? readIp(reader, addressField) : undefined;
    const weight = fields.weight
      ? reader.number(fields.weight, { ...LIMITS.backendWeight, integer: true })
      : DEFAULTS.backendWeight;
    if (ip && addressField && vipFamily !== undefined && ip.family !== vipFamily) {
      reader.error(addressField, `backend ${ip.address} is IPv${ip.family} but the VIP is IPv${vipFamily}: direct routing keeps the address family`);
    }
    // A backend's own check replaces the service's for that backend (keepalived checks per real server).
    const healthCheck = fields.healthCheck ? readHealthCheck(reader, fields.healthCheck) : undefined;
    if (!ip || !addressField || weight === undefined || (fields.healthCheck && !healthCheck)) continue;
    if (seen.has(ip.address)) reader.error(addressField, `backend ${ip.address} is listed twice`);
    seen.add(ip.address);
    backends.push({ address: ip.address, family: ip.family, weight, ...(healthCheck ? { healthCheck } : {}) });
  }
  return backends;
}

export function readService(reader: FieldReader, field: Field, instances: InstanceLookup): ServiceConfig | undefined {
  const fields = reader.mapping(field, SERVICE_KEYS);
  if (!fields) return undefined;
  const givenName = fields.name ? readName(reader, fields.name) : undefined;
  const vipField = reader.required(field, fields, 'vip');
  const vip = vipField ? readIp(reader, vipField) : undefined;
  const portField = reader.required(field, fields, 'port');
  const port = portField ? reader.number(portField, { ...LIMITS.port, integer: true }) : undefined;
  const protocol = fields.protocol
    ? reader.oneOf<ServiceProtocol>(fields.protocol, ['tcp', 'udp'])
    : DEFAULTS.service.protocol;
  const instanceField = reader.required(field, fields, 'instance');
  const instanceName = instanceField ? reader.text(instanceField) : undefined;
  if (instanceField && instanceName !== undefined) {
    if (!instances.has(instanceName)) {
      const known = [...instances.keys()];
      reader.error(instanceField, `no instance is named "${instanceName}"${known.length ? `; instances: ${known.join(', ')}` : ''}`);
    } else {
      const instance = instances.get(instanceName);
      if (instance && vip && vipField && !instance.vips.some((v) => v.address === vip.address)) {
        reader.error(vipField, `${vip.address} is not one of instance "${instanceName}"'s vips (${instance.vips.map((v) => v.address).join(', ')})`);
      }
    }
  }
  const backendsField = reader.required(field, fields, 'backends');
  const backends = backendsField ? readBackends(reader, backendsField, vip?.family) : [];
  const healthCheck = fields.healthCheck ? readHealthCheck(reader, fields.healthCheck) : undefined;
  const persistence = fields.persistence ? readPersistence(reader, fields.persistence) : undefined;
  if (!vip || port === undefined || protocol === undefined || instanceName === undefined || backends.length === 0) {
    return undefined;
  }
  return {
    name: givenName ?? `${formatHostPort(vip.address, port)}/${protocol}`,
    vip: vip.address,
    family: vip.family,
    port,
    protocol,
    instance: instanceName,
    backends,
    ...(healthCheck ? { healthCheck } : {}),
    ...(persistence ? { persistence } : {}),
  };
}

function readPersistence(reader: FieldReader, field: Field): PersistenceConfig | undefined {
  const fields = reader.mapping(field, ['timeout']);
  if (!fields) return undefined;
  const timeoutField = reader.required(field, fields, 'timeout');
  const timeout = timeoutField ? reader.number(timeoutField, { ...LIMITS.flowTimeout, unit: 'seconds' }) : undefined;
  return timeout === undefined ? undefined : { timeout };
}
