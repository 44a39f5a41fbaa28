/**
 * `connections.sync`: the connection table's replication to the VRRP peers
 * (src/sync). load.ts reads the rest of `connections`.
 */
import { readFileSync } from 'node:fs';
import { readIp } from './read-instance.js';
import { DEFAULTS, LIMITS, type ConnectionSyncConfig, type InstanceConfig, type IpAddress } from './schema.js';
import type { Field, FieldReader } from './yaml-reader.js';

const SYNC_KEYS = ['port', 'peers', 'key', 'keyFile', 'interval', 'rate', 'holdTimeout'] as const;

/** The secret and where it came from; undefined (with an error recorded) when there is none. */
function readKey(
  reader: FieldReader,
  at: Field,
  fields: Partial<Record<string, Field>>,
  instances: readonly InstanceConfig[],
): Pick<ConnectionSyncConfig, 'key' | 'keySource'> | undefined {
  if (fields.key && fields.keyFile) {
    reader.error(fields.keyFile, 'give key or keyFile, not both');
    return undefined;
  }
  let key: string | undefined;
  let keySource: ConnectionSyncConfig['keySource'] = 'key';
  if (fields.key) key = reader.text(fields.key);
  else if (fields.keyFile) {
    const path = reader.text(fields.keyFile);
    if (path === undefined) return undefined;
    if (!path.startsWith('/')) {
      reader.error(fields.keyFile, 'must be an absolute path');
      return undefined;
    }
    try {
      key = readFileSync(path, 'utf8').trim();
    } catch (err) {
      reader.error(fields.keyFile, `cannot read ${path}: ${(err as Error).message}`);
      return undefined;
    }
    keySource = 'keyFile';
  } else {
    // The VRRP password is short and travels in the clear: better than nothing, and what keepalived users have.
    const withAuth = [...instances].sort((a, b) => a.name.localeCompare(b.name)).find((i) => i.auth !== undefined);
    if (!withAuth?.auth) {
      reader.error(at, 'needs key or keyFile (the HMAC key peers share), or an instance with auth to take the key from');
      return undefined;
    }
    return { key: withAuth.auth.password, keySource: 'vrrp-auth' };
  }
  if (key === undefined) return undefined;
  if (Buffer.byteLength(key) < LIMITS.syncKeyBytes) {
    reader.error(fields.key ?? fields.keyFile ?? at, `the key must be at least ${LIMITS.syncKeyBytes} bytes`);
    return undefined;
  }
  return { key, keySource };
}

export function readConnectionSync(reader: FieldReader, field: Field, instances: readonly InstanceConfig[]): ConnectionSyncConfig | undefined {
  const fields = reader.mapping(field, SYNC_KEYS);
  if (!fields) return undefined;
  const d = DEFAULTS.connectionSync;
  const port = fields.port ? reader.number(fields.port, { ...LIMITS.port, integer: true }) : d.port;
  const interval = fields.interval ? reader.number(fields.interval, { ...LIMITS.syncInterval, unit: 'seconds' }) : d.interval;
  const rate = fields.rate ? reader.number(fields.rate, { ...LIMITS.syncRate, integer: true, unit: 'entries per second' }) : d.rate;
  const holdTimeout = fields.holdTimeout
    ? reader.number(fields.holdTimeout, { ...LIMITS.syncHoldTimeout, unit: 'seconds' })
    : d.holdTimeout;
  const peers: IpAddress[] = [];
  for (const item of (fields.peers && reader.list(fields.peers)) || []) {
    const ip = readIp(reader, item);
    if (!ip) continue;
    if (peers.some((p) => p.address === ip.address)) reader.error(item, `peer ${ip.address} is listed twice`);
    else peers.push(ip);
  }
  const key = readKey(reader, field, fields, instances);
  if (port === undefined || interval === undefined || rate === undefined || holdTimeout === undefined || !key) return undefined;
  return { port, peers, interval, rate, holdTimeout, ...key };
}

