export { BFD_INTERVAL_MS, BFD_MULTIPLIER, peerProtocolName, renderBirdConfig, vipPrefix, type BirdConfigInput } from './bird-config.js';
export { BirdCommandError, birdCommand, parseReply, parseShowProtocols, type BirdReplyLine, type ProtocolState } from './bird-control.js';
export { BirdSupervisor, type BirdSupervisorOptions, type PeerSession, type SupervisorLogger } from './supervisor.js';
export { decideAnnouncements, type AnnounceDecision, type AnnounceInputs, type AnnouncedInstance, type ServiceHealth } from './announce-policy.js';
