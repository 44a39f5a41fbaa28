/** The control socket: framed MessagePack over a 0600 Unix socket. */
export { ControlClient, type CallOptions, type ControlClientOptions, type ControlStream } from './client.js';
export {
  CANCEL_METHOD,
  ControlError,
  ControlErrorCode,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_RESPONSE_BYTES,
  decodeBody,
  encodeFrame,
  FrameDecoder,
  parseRequest,
  parseResponse,
  type ControlRequest,
  type ControlResponse,
  type ErrorBody,
  type KnownControlErrorCode,
} from './protocol.js';
export {
  ControlServer,
  type ControlLogger,
  type ControlServerOptions,
  type Handler,
  type Handlers,
  type PeerCredentials,
  type RequestContext,
  type StreamHandler,
  type UnaryHandler,
} from './server.js';
export { claimSocketPath } from './socket-path.js';
