/** Running checks: one command runner (process groups) and one rise/fall scheduler, for health checks and track scripts. */
export * from './rise-fall.js';
export * from './run-program.js';
export * from './track-script.js';
