/**
 * The daemon's side of connection sync (src/sync): what FlowSync reads of
 * the instances and services, and the preemption gate: a host that hears a
 * MASTER it has no bulk sync from yet may stay BACKUP, but not preempt,
 * until it holds that MASTER's connection table or `holdTimeout` passed.
 * The MASTER's slot fallbacks travel too: the data plane writes them into
 * the rings of services this host does not serve (setFallbackSource()).
 */
import type { ConnectionSyncConfig } from '../config/index.js';
import type { Dataplane } from '../dataplane/manager.js';
import type { VipdMetrics } from '../metrics/index.js';
import { FlowSync } from '../sync/flow-sync.js';
import type { InstanceSet } from './instances.js';
import type { Logger } from './logger.js';
import type { ServiceTable } from './services.js';

export interface ConnectionSyncParts {
  dataplane: Dataplane;
  services: ServiceTable;
  instances: InstanceSet;
  metrics: VipdMetrics;
  logger: Logger;
}

/** Starts the sync; `adopted`: a hitless restart, whose pinned table is whole already. */
export async function startConnectionSync(config: ConnectionSyncConfig, parts: ConnectionSyncParts, adopted: boolean): Promise<FlowSync> {
  const { instances, services } = parts;
  const sync = new FlowSync({
    config,
    maps: parts.dataplane.flowMaps(),
    logger: parts.logger,
    registry: parts.metrics.registry,
    startSynced: adopted,
    host: {
      masterIds: () => instances.activeIds(),
      heardMasters: () => instances.peers().heardMasters,
      unicastPeers: () => instances.peers().unicastPeers,
      endpoints: () => services.endpoints(),
      realAddresses: () => new Map([...services.indexes().reals].map(([i, r]) => [i, r.backend])),
      rings: () => parts.dataplane.ringVersions(),
      ringSlots: (ring, size) => parts.dataplane.ringSlots(ring, size),
      refreshFallbacks: (service) => void parts.dataplane.refreshFallbacks(service),
    },
  });
  // Services this host does not serve keep their MASTER's fallbacks (docs/architecture.md "Connection sync").
  parts.dataplane.setFallbackSource(sync.fallbackSource);
  await sync.start();
  instances.setPreemptGate(config.holdTimeout > 0 ? () => sync.preemptHold() : null);
  return sync;
}
