/** Real-server health checks: tcp, http(s), command; rise/fall; many at once. */
export { Checker, type ChangeListener, type CheckerOptions, type CheckerStatus } from './checker.js';
export { systemClock, type Clock, type TimerId } from './clock.js';
export { describeProbe } from './describe.js';
export { checkSpecFromConfig, type CheckTarget, type ConfigHealthCheck } from './from-config.js';
export { HealthMonitor, type HealthMonitorOptions, type KeyedHealthChange, type MonitorListener } from './monitor.js';
export { runProbe, type ProbeFn } from './probe.js';
export { probeCommand } from './probe-command.js';
export { probeHttp } from './probe-http.js';
export { probeTcp } from './probe-tcp.js';
export * from './types.js';
