/**
 * Long bursts of work cut into time slices: a burst of promise continuations
 * (10 000 table installs after a config load) never lets timers and I/O
 * run, so the control socket, health checks and the advert sender's watchdog
 * would wait for all of it. Each step awaits turn(): it returns at once while
 * the current slice lasts; past it, every caller waits for one shared
 * setImmediate, which runs after the event loop's I/O phase.
 */
export class Slices {
  #sliceStart = performance.now();
  #pause: Promise<void> | undefined;

  constructor(
    /** Work allowed between two pauses (ms). */
    private readonly sliceMs: number,
  ) {}

  /** Resolves at once inside a slice, or after the event loop has run once. */
  turn(): Promise<void> {
    if (this.#pause) return this.#pause;
    if (performance.now() - this.#sliceStart < this.sliceMs) return Promise.resolve();
    this.#pause = new Promise((resolve) =>
      setImmediate(() => {
        this.#pause = undefined;
        this.#sliceStart = performance.now();
        resolve();
      }),
    );
    return this.#pause;
  }
}
