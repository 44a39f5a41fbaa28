/**
 * src/bfd: BFD sessions run by the addon's native thread (bfd.ts), and what
 * the daemon does with them for its VRRP instances (instance-bfd.ts).
 */
export { Bfd, bfdDiagText, type BfdEvents, type BfdSessionChange, type BfdSessionInfo, type BfdSessionOptions, type BfdSessionState, type BfdStats } from './bfd.js';
