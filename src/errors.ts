/**
 * The one base of every error vipd defines (the model: undici's
 * lib/core/errors.js). Users, scripts and vipctl match `code`, never the
 * message; `exitCode` is what a process that ends on this error exits
 * with (DESIGN.md: 1 runtime failure, 2 usage or config, 3 missing
 * privilege or kernel feature).
 *
 * Codes are `VIPD_<LAYER>_<WHAT>` (VIPD_BPF_PIN_MISMATCH,
 * VIPD_NET_PRIVILEGE, VIPD_NET_ENODEV, VIPD_CONFIG_REJECTED, ...); a
 * kernel errno is also kept as `errnoName` ('ENODEV'). One exception, on
 * purpose: ControlError's codes (BAD_FRAME, NOT_FOUND, CONFIG, ...) travel
 * on the wire between vipctl and vipd of different versions, so they stay
 * what the control protocol defines (src/daemon/control/protocol.ts).
 */
import { ExitCode } from './exit-codes.js';

export class VipdError extends Error {
  override name = 'VipdError';
  readonly code: string;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, opts: { exitCode?: ExitCode; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.exitCode = opts.exitCode ?? ExitCode.Failure;
  }
}

/** The exit code for anything thrown: a VipdError's own, else a runtime failure. */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof VipdError ? err.exitCode : ExitCode.Failure;
}
