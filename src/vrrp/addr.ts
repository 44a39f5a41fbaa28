/** Address helpers of the engine: the shared ones in src/addr.ts. */
export * from '../addr.js';
