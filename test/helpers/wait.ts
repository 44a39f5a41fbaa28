/**
 * Waiting on a condition instead of a clock: every test that needs "until X"
 * polls X here with a generous deadline, so a loaded machine only makes it
 * slower, never wrong. No vitest import: usable from bench/ and scripts/ too.
 */

export const sleep = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `fn` (every `intervalMs`) until it returns a value that is not
 * undefined, and returns it; a throw counts as "not yet" (its message is kept
 * for the timeout error).
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= until) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
