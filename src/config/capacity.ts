/**
 * What the data plane needs for a config, checked when the config is read,
 * so that `vipd --check` refuses exactly the configs that `vipd` would
 * refuse at start or reload. Map sizes follow the config (no fixed cap an
 * operator meets); what bounds a config is the kernel memory the maps
 * take, against `bpf.maxMemory`.
 */
import { mapMemory, mapSizesFor, possibleCpuCount, formatBytes, type DataplaneDemand, type MemoryEstimate, type MapSizes } from '../dataplane/sizing.js';
import type { Config, InstanceConfig, ServiceConfig } from './schema.js';
import type { Field, FieldReader } from './yaml-reader.js';

type DemandSource = Pick<Config, 'instances' | 'services'> & { readonly connections?: Pick<Config['connections'], 'max' | 'pending'> };

export function dataplaneDemand(config: DemandSource): DataplaneDemand {
  return {
    instances: config.instances.length,
    vips: config.instances.reduce((sum, i) => sum + i.vips.length, 0),
    serviceBackends: config.services.map((s) => s.backends.length),
    ...(config.connections ? { connections: config.connections.max, pending: config.connections.pending } : {}),
    families: { v4: config.services.some((s) => s.family === 4), v6: config.services.some((s) => s.family === 6) },
  };
}

export interface DataplaneFootprint {
  readonly sizes: MapSizes;
  readonly memory: MemoryEstimate;
}

/** The maps a config gets, and their kernel memory on this host. */
export function dataplaneFootprint(config: DemandSource, cpus = possibleCpuCount()): DataplaneFootprint {
  const sizes = mapSizesFor(dataplaneDemand(config));
  return { sizes, memory: mapMemory(sizes, cpus) };
}

interface Located<T> {
  readonly field: Field;
  readonly value: T;
}

/** Records an error when the maps for this config would not fit in bpf.maxMemory. */
export function checkCapacity(
  reader: FieldReader,
  bpf: { readonly field: Field; readonly maxMemory: number; readonly connections?: Pick<Config['connections'], 'max' | 'pending'> },
  instances: readonly Located<InstanceConfig>[],
  services: readonly Located<ServiceConfig>[],
  cpus = possibleCpuCount(),
): void {
  const { memory } = dataplaneFootprint(
    {
      instances: instances.map((i) => i.value),
      services: services.map((s) => s.value),
      ...(bpf.connections === undefined ? {} : { connections: bpf.connections }),
    },
    cpus,
  );
  if (memory.total <= bpf.maxMemory) return;
  const biggest = Object.entries(memory.byMap)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name, bytes]) => `${name} ${formatBytes(bytes)}`)
    .join(', ');
  reader.error(
    reader.peek(bpf.field, 'maxMemory') ?? bpf.field,
    `the data-plane maps for this config need ${formatBytes(memory.total)} of kernel memory (${biggest}; ` +
      `${services.length} services, ${cpus} CPUs), more than bpf.maxMemory ${formatBytes(bpf.maxMemory)}` +
      (bpf.connections !== undefined && /\b(flows|pending)[46]\b/.test(biggest)
        ? ` (connections.max ${bpf.connections.max} sizes flows4/flows6, connections.pending ${bpf.connections.pending} pending4/pending6)`
        : ''),
  );
}
