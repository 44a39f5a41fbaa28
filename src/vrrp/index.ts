/** The VRRP engine: pure codec, validation, state machine, sync groups, hooks. */
export * from './addr.js';
export * from './vmac.js';
export * from './checksum.js';
export * from './clock.js';
export * from './codec.js';
export * from './instance.js';
export * from './notify.js';
export * from './sync-group.js';
export * from './timing.js';
export * from './validate.js';
