import type { Clock, ClockTimer } from '../clock.js';
import { InvalidOptionsError } from '../errors.js';

/** Options of {@link ManualClock}. */
export interface ManualClockOptions {
  /**
   * How many macrotask turns {@link ManualClock.advance} yields before and
   * after each timer, so promise chains started by a timer (or by the code
   * under test) run before time moves on. Default 10. Raise it for long
   * chains of awaits across real I/O-free code; it never sleeps.
   */
  flushTurns?: number;
  /** Safety cap on timers fired by one {@link ManualClock.runAll}. Default 10 000. */
  maxRunAllTimers?: number;
}

/** A pending timer of a {@link ManualClock}, as {@link ManualClock.timers} reports it. */
export interface ManualClockTimerInfo {
  /** Absolute clock time at which it fires. */
  readonly dueAt: number;
  /** Whether it was created with `unref: true`. */
  readonly unref: boolean;
}

interface PendingTimer {
  readonly handle: ManualTimerHandle;
  readonly dueAt: number;
  readonly seq: number;
  readonly unref: boolean;
  readonly callback: () => void;
}

/** The opaque handle {@link ManualClock.setTimeout} returns. */
class ManualTimerHandle {
  constructor(readonly id: number) {}
}

type Yield = (resume: () => void) => void;

// A macrotask turn: every microtask queued so far runs before it. setImmediate
// where it exists (Node, Bun); elsewhere a 0 ms timer, which is also a macrotask.
const yieldTurn: Yield =
  typeof globalThis.setImmediate === 'function'
    ? (resume) => globalThis.setImmediate(resume)
    : (resume) => globalThis.setTimeout(resume, 0);

/**
 * A {@link Clock} whose time moves only when a test says so. Inject it as the
 * registry's `clock` (and the fake factory's) to drive timeouts, idle
 * validation and close deadlines without waiting.
 *
 * Timers fire in due-time order; timers due at the same time fire in the order
 * they were created. A timer scheduled by a callback during {@link advance}
 * fires in that same call if it falls due within it.
 *
 * {@link advance} and {@link runAll} let pending promise callbacks run between
 * timers by yielding a few macrotask turns (`setImmediate`); they never sleep
 * in real time. {@link tick} is the synchronous variant that does not yield.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const registry = new UpstreamSessionRegistry({ factory, clock, idleValidationMs: 60_000 });
 * await registry.use(request, (client) => client.ping());
 * await clock.advance(60_000); // the session is now due for a probe
 * ```
 */
export class ManualClock implements Clock {
  private current: number;
  private nextSeq = 0;
  private readonly timersByHandle = new Map<ManualTimerHandle, PendingTimer>();
  private readonly flushTurns: number;
  private readonly maxRunAllTimers: number;

  /**
   * @param startMs - initial value of {@link now}.
   * @throws {InvalidOptionsError} on a non-finite `startMs` or a bad option.
   */
  constructor(startMs = 0, options: ManualClockOptions = {}) {
    if (!Number.isFinite(startMs)) throw new InvalidOptionsError('startMs', `expected a finite number, got ${startMs}`);
    this.current = startMs;
    this.flushTurns = nonNegativeInteger('flushTurns', options.flushTurns ?? 10);
    this.maxRunAllTimers = nonNegativeInteger('maxRunAllTimers', options.maxRunAllTimers ?? 10_000);
  }

  /** Current time in milliseconds. */
  now(): number {
    return this.current;
  }

  /** Schedules `callback` at `now() + ms`. A negative or NaN `ms` counts as 0. `unref` is recorded, not acted on. */
  setTimeout(callback: () => void, ms: number, options?: { unref?: boolean }): ClockTimer {
    const delay = Number.isNaN(ms) || ms < 0 ? 0 : ms;
    const handle = new ManualTimerHandle(this.nextSeq);
    this.timersByHandle.set(handle, {
      handle,
      dueAt: this.current + delay,
      seq: this.nextSeq,
      unref: options?.unref === true,
      callback,
    });
    this.nextSeq += 1;
    return handle;
  }

  /** Cancels a pending timer; unknown or already fired timers are ignored. */
  clearTimeout(timer: ClockTimer): void {
    if (timer instanceof ManualTimerHandle) this.timersByHandle.delete(timer);
  }

  /** Number of timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timersByHandle.size;
  }

  /** Pending timers in firing order. Useful to assert that a timer is unref'd or that none leaked. */
  timers(): readonly ManualClockTimerInfo[] {
    return Object.freeze(this.ordered().map(({ dueAt, unref }) => Object.freeze({ dueAt, unref })));
  }

  /** Milliseconds until the next pending timer fires, or `undefined` when none is pending. */
  nextTimerIn(): number | undefined {
    const next = this.ordered()[0];
    return next === undefined ? undefined : next.dueAt - this.current;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way,
   * in order, with time set to each timer's due time while it runs. Yields to
   * pending promise callbacks before the first timer, after each timer and at
   * the end. If a callback throws, time stops at that timer and the returned
   * promise rejects with the error.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + nonNegative('ms', ms);
    await this.flush();
    for (let next = this.nextDue(target); next !== undefined; next = this.nextDue(target)) {
      this.fire(next);
      await this.flush();
    }
    this.current = target;
    await this.flush();
  }

  /** Synchronous {@link advance}: fires due timers in order without letting promise callbacks run in between. */
  tick(ms: number): void {
    const target = this.current + nonNegative('ms', ms);
    for (let next = this.nextDue(target); next !== undefined; next = this.nextDue(target)) this.fire(next);
    this.current = target;
  }

  /**
   * Fires timers until none is pending, advancing time to each one, yielding
   * to promise callbacks in between.
   *
   * @throws {Error} when more than `maxRunAllTimers` timers fire (a timer that re-arms itself forever).
   */
  async runAll(): Promise<void> {
    await this.flush();
    for (let fired = 0; this.timersByHandle.size > 0; fired += 1) {
      if (fired >= this.maxRunAllTimers) {
        throw new Error(`ManualClock.runAll: more than ${this.maxRunAllTimers} timers fired; a timer keeps re-arming`);
      }
      const next = this.ordered()[0];
      if (next === undefined) break;
      this.fire(next);
      await this.flush();
    }
  }

  /** Yields `flushTurns` macrotask turns so that queued promise callbacks run. Never sleeps. */
  async flush(): Promise<void> {
    for (let turn = 0; turn < this.flushTurns; turn += 1) {
      await new Promise<void>((resume) => yieldTurn(resume));
    }
  }

  private fire(timer: PendingTimer): void {
    this.timersByHandle.delete(timer.handle);
    if (timer.dueAt > this.current) this.current = timer.dueAt;
    timer.callback();
  }

  private nextDue(target: number): PendingTimer | undefined {
    const next = this.ordered()[0];
    return next !== undefined && next.dueAt <= target ? next : undefined;
  }

  private ordered(): PendingTimer[] {
    // Timer counts in tests are small; sorting on demand keeps the structure obvious.
    return [...this.timersByHandle.values()].sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
  }
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionsError(name, `expected a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidOptionsError(name, `expected an integer >= 0, got ${String(value)}`);
  }
  return value;
}
