/**
 * Time source used for every timestamp and timer the registry starts.
 * Inject a `ManualClock` from `mcp-upstream-registry/testing` to drive time in tests.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; only differences are used. */
  now(): number;
  /**
   * Calls `callback` once after `ms` milliseconds. With `unref: true` the timer
   * does not keep a Node.js process alive.
   */
  setTimeout(callback: () => void, ms: number, options?: { unref?: boolean }): ClockTimer;
  /** Cancels a timer returned by {@link Clock.setTimeout}; unknown or fired timers are ignored. */
  clearTimeout(timer: ClockTimer): void;
}

/** Opaque timer handle returned by {@link Clock.setTimeout}. */
export type ClockTimer = { readonly __clockTimer?: never } | object | number;

/** The real clock: `Date.now()` and the global timers. Runtime-neutral. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(callback: () => void, ms: number, options?: { unref?: boolean }): ClockTimer {
    const timer: unknown = globalThis.setTimeout(callback, ms);
    if (options?.unref === true) unrefTimer(timer);
    return timer as ClockTimer;
  },
  clearTimeout(timer: ClockTimer): void {
    globalThis.clearTimeout(timer as Parameters<typeof globalThis.clearTimeout>[0]);
  },
});

function unrefTimer(timer: unknown): void {
  // Node and Bun timers have unref(); browsers, Deno and Workers return numbers.
  if (typeof timer === 'object' && timer !== null && 'unref' in timer && typeof timer.unref === 'function') {
    timer.unref();
  }
}
