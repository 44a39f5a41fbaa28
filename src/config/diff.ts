/**
 * What changed between two validated configs, so a reload touches only
 * that: instances and services are matched by name, backends by address.
 */
import { isDeepStrictEqual } from 'node:util';
import type { BackendConfig, Config, ServiceConfig } from './schema.js';

export interface NamedChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Present in both with any setting different. */
  readonly changed: readonly string[];
}

/** Backend changes inside one service present in both configs (addresses). */
export interface BackendChanges extends NamedChanges {
  readonly service: string;
}

export interface ConfigDiff {
  readonly bpfChanged: boolean;
  readonly controlChanged: boolean;
  /** The top-level bgp (speaker, peers) differs: the BGP speaker is reconfigured. */
  readonly bgpChanged: boolean;
  /** The top-level connections (table, sync) differs. */
  readonly connectionsChanged: boolean;
  readonly instances: NamedChanges;
  readonly syncGroups: NamedChanges;
  /** A service counts as changed when anything but its backend list changed. */
  readonly services: NamedChanges;
  /** Only services with backend changes are listed. */
  readonly backends: readonly BackendChanges[];
  /** True when nothing at all differs. */
  readonly empty: boolean;
}

function compareByKey<T>(before: readonly T[], after: readonly T[], key: (item: T) => string, same: (a: T, b: T) => boolean): NamedChanges {
  const old = new Map(before.map((item) => [key(item), item]));
  const next = new Map(after.map((item) => [key(item), item]));
  const added = [...next.keys()].filter((name) => !old.has(name));
  const removed = [...old.keys()].filter((name) => !next.has(name));
  const changed = [...next.entries()]
    .filter(([name, item]) => {
      const previous = old.get(name);
      return previous !== undefined && !same(previous, item);
    })
    .map(([name]) => name);
  return { added, removed, changed };
}

function withoutBackends(service: ServiceConfig): Omit<ServiceConfig, 'backends'> {
  const { backends: _backends, ...rest } = service;
  return rest;
}

function isEmpty(changes: NamedChanges): boolean {
  return changes.added.length + changes.removed.length + changes.changed.length === 0;
}

export function diffConfig(before: Config, after: Config): ConfigDiff {
  const instances = compareByKey(before.instances, after.instances, (i) => i.name, isDeepStrictEqual);
  const syncGroups = compareByKey(before.syncGroups, after.syncGroups, (g) => g.name, isDeepStrictEqual);
  const services = compareByKey(before.services, after.services, (s) => s.name, (a, b) =>
    isDeepStrictEqual(withoutBackends(a), withoutBackends(b)));
  const oldServices = new Map(before.services.map((s) => [s.name, s]));
  const backends: BackendChanges[] = [];
  for (const service of after.services) {
    const previous = oldServices.get(service.name);
    if (!previous) continue;
    const changes = compareByKey<BackendConfig>(previous.backends, service.backends, (b) => b.address, isDeepStrictEqual);
    if (!isEmpty(changes)) backends.push({ service: service.name, ...changes });
  }
  const bpfChanged = !isDeepStrictEqual(before.bpf, after.bpf);
  const controlChanged = !isDeepStrictEqual(before.control, after.control);
  const bgpChanged = !isDeepStrictEqual(before.bgp, after.bgp);
  const connectionsChanged = !isDeepStrictEqual(before.connections, after.connections);
  const empty = !bpfChanged && !controlChanged && !bgpChanged && !connectionsChanged && isEmpty(instances) && isEmpty(syncGroups) &&
    isEmpty(services) && backends.length === 0;
  return { bpfChanged, controlChanged, bgpChanged, connectionsChanged, instances, syncGroups, services, backends, empty };
}
