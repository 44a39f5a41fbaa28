/**
 * The daemon's side of connection sync (src/sync): what FlowSync reads of
 * the instances and services, and the preemption hold of a host that
 * (re)starts: it may stay BACKUP, but not preempt, until it holds the
 * MASTER's connection table or `holdTimeout` passed.
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

export async function startConnectionSync(config: ConnectionSyncConfig, parts: ConnectionSyncParts, holdPreemption: boolean): Promise<FlowSync> {
  const { instances, services, logger } = parts;
  const sync = new FlowSync({
    config,
    maps: parts.dataplane.flowMaps(),
    logger,
    registry: parts.metrics.registry,
    host: {
      masterIds: () => instances.activeIds(),
      heardMasters: () => instances.peers().heardMasters,
      unicastPeers: () => instances.peers().unicastPeers,
      endpoints: () => services.endpoints(),
      realAddresses: () => new Map([...services.indexes().reals].map(([i, r]) => [i, r.backend])),
    },
  });
  await sync.start();
  // A hitless restart (adopted pins) has its table already: nothing to wait for.
  if (holdPreemption && config.holdTimeout > 0) {
    const started = Date.now();
    instances.holdPreemption('connection sync: waiting for the MASTER connection table');
    logger.info({ timeoutSeconds: config.holdTimeout }, 'connection sync: preemption held until a bulk sync from the MASTER completes');
    void sync.whenSynced(config.holdTimeout * 1000).then((outcome) => {
      instances.holdPreemption(null);
      const fields = { outcome, ms: Date.now() - started };
      if (outcome === 'timeout') logger.warn(fields, 'connection sync: no bulk sync within holdTimeout; preemption allowed');
      else logger.info(fields, outcome === 'synced' ? 'connection sync: table received; preemption allowed' : 'connection sync: no MASTER to sync from; preemption allowed');
    });
  }
  return sync;
}
