/**
 * Long bursts of work cut into time slices: a burst of promise continuations
 * (10 000 table installs after a config load) never lets timers and I/O
 * run, so the control socket, health checks and the advert sender's watchdog
 * would wait for all of it. Each step starts with
 *
 *   while (slices.due()) await slices.pause();
 *
 * due() is a plain check, so a step inside the slice runs on at once (an
 * `await` there would queue it behind every other step's check, and all of
 * them would pass before any work was done); past the slice, every step
 * waits for one shared setImmediate, which runs after the event loop's I/O.
 */
export class Slices {
  #sliceStart = performance.now();
  #pause: Promise<void> | undefined;

  constructor(
    /** Work allowed between two pauses (ms). */
    private readonly sliceMs: number,
  ) {}

  /** True when the current slice is used up: the caller should pause(). */
  due(): boolean {
    return this.#pause !== undefined || performance.now() - this.#sliceStart >= this.sliceMs;
  }

  /** Resolves after the event loop has run once; a new slice starts then. */
  pause(): Promise<void> {
    this.#pause ??= new Promise((resolve) =>
      setImmediate(() => {
        this.#pause = undefined;
        this.#sliceStart = performance.now();
        resolve();
      }),
    );
    return this.#pause;
  }
}
