/** The config module's public face: schema types, loading, errors, diffing. */
export * from './schema.js';
export { parseConfig, loadConfig, type ConfigResult } from './load.js';
export { formatConfigError, sortConfigErrors, type ConfigError } from './errors.js';
export { diffConfig, type ConfigDiff, type NamedChanges, type BackendChanges } from './diff.js';
export { checkConfigFile, type CheckOutput } from './check.js';
export { parseCidr, parseConfigListenAddress, parseIpAddress, formatHostPort } from './address.js';
