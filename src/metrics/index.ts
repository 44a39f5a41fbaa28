/** Prometheus metrics: the vipd registry and the /metrics endpoint. */
export type {
  BackendCounters,
  CounterValue,
  DataplaneCounters,
  DataplaneStatsSource,
  ServiceCounters,
} from './dataplane-source.js';
export { isLoopback, parseListenAddress, type ListenAddress } from './listen-address.js';
export { MetricsServer, type MetricsSource } from './server.js';
export {
  VipdMetrics,
  VRRP_STATE_VALUE,
  type AdvertDirection,
  type InstanceInfo,
  type VipdMetricsOptions,
  type VrrpStateName,
} from './vipd-metrics.js';
