/** Process exit codes shared by vipd and vipctl (DESIGN.md "Commands"). */
export const ExitCode = {
  /** Everything worked. */
  Ok: 0,
  /** A runtime failure: the daemon died, a socket broke, a map write failed. */
  Failure: 1,
  /** Bad usage or a bad config file. */
  Usage: 2,
  /** A missing privilege or kernel feature; the message names which. */
  MissingPrivilege: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
