/** The engine's checksum: the shared one in src/checksum.ts. */
export * from '../checksum.js';
