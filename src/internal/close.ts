import type { Clock, ClockTimer } from '../clock.js';
import type { CloseContext } from '../factory.js';

/** How a bounded close ended. */
export interface CloseOutcome {
  /** `'closed'`: `close()` settled in time; `'orphaned'`: the registry stopped waiting. */
  readonly outcome: 'closed' | 'orphaned';
  /** True when the graceful phase ran out and the close signal was aborted. */
  readonly forced: boolean;
  /** What `close()` rejected with, if it did. */
  readonly error?: unknown;
}

const TIMED_OUT = Symbol('timed-out');

/**
 * When a close phase ends: `ms` after the phase starts (a timer of its own), or
 * at a moment shared by many closes (a promise that resolves then), which is how
 * `closeAll()` keeps one bound for all sessions however long retiring them takes.
 */
export type PhaseEnd = number | Promise<void>;

/** The ends of the phases of one retirement: drain, graceful close, forced close. */
export interface CloseSchedule {
  readonly drain: PhaseEnd;
  readonly graceful: PhaseEnd;
  readonly forced: PhaseEnd;
  /** Closes of many retirements that share their graceful and forced ends (`closeAll()`); used instead of `closeWithin`. */
  readonly lane?: CloseLane;
}

/** Every phase lasts `timeoutMs` from its own start. */
export function perPhaseSchedule(timeoutMs: number): CloseSchedule {
  return { drain: timeoutMs, graceful: timeoutMs, forced: timeoutMs };
}

/** The schedules of {@link sharedPhaseEnds}. */
export interface SharedSchedules {
  /** `timeoutMs`, `2 x` and `3 x timeoutMs` from the start. */
  readonly ends: readonly [Promise<void>, Promise<void>, Promise<void>];
  /** For a session with nothing to drain: graceful close until the first end, forced until the second. */
  readonly idle: CloseSchedule;
  /** For a session that drains (or is still creating) until the first end: graceful until the second, forced until the third. */
  readonly busy: CloseSchedule;
  /** Clears the timers once nobody waits. */
  cancel(): void;
}

/**
 * Phase ends shared by many retirements started now, so that however long
 * starting them takes, none ends later than `3 x timeoutMs` from now; their
 * closes share a {@link CloseLane} per schedule.
 */
export function sharedPhaseEnds(timeoutMs: number, clock: Clock): SharedSchedules {
  const timers: ClockTimer[] = [];
  const end = (n: number): Promise<void> =>
    new Promise<void>((resolve) => {
      timers.push(clock.setTimeout(resolve, n * timeoutMs));
    });
  const ends = [end(1), end(2), end(3)] as const;
  const [first, second, third] = ends;
  return {
    ends,
    idle: { drain: first, graceful: first, forced: second, lane: new CloseLane(first, second) },
    busy: { drain: first, graceful: second, forced: third, lane: new CloseLane(second, third) },
    cancel: () => {
      for (const timer of timers) clock.clearTimeout(timer);
    },
  };
}

/** What a {@link CloseLane} closes: an upstream connection. */
export interface Closable {
  close(ctx: CloseContext): Promise<void>;
}

const CLOSED: CloseOutcome = Object.freeze({ outcome: 'closed', forced: false });
const CLOSED_FORCED: CloseOutcome = Object.freeze({ outcome: 'closed', forced: true });
const ORPHANED: CloseOutcome = Object.freeze({ outcome: 'orphaned', forced: true });

const GRACEFUL_TIMED_OUT = (): DOMException => new DOMException('Graceful close timed out', 'TimeoutError');

/**
 * One close in a lane, and its context: the abort signal is created only if
 * the close reads it (already aborted when the graceful phase is over). The
 * close sees a `CloseContext`; the lane's state is kept private from it.
 */
class LaneClose implements CloseContext {
  readonly #connection: Closable;
  readonly #resolve: (outcome: CloseOutcome) => void;
  #controller: AbortController | undefined = undefined;
  #forced: boolean;
  declare readonly detach?: true;

  constructor(connection: Closable, resolve: (outcome: CloseOutcome) => void, detach: boolean, forced: boolean) {
    this.#connection = connection;
    this.#resolve = resolve;
    this.#forced = forced;
    if (detach) this.detach = true;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#forced) this.#controller.abort(GRACEFUL_TIMED_OUT());
    }
    return this.#controller.signal;
  }

  /** Calls the connection's `close`; a synchronous throw is returned as a rejection. */
  start(): Promise<void> {
    try {
      return Promise.resolve(this.#connection.close(this));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The graceful phase is over. */
  force(): void {
    this.#forced = true;
    this.#controller?.abort(GRACEFUL_TIMED_OUT());
  }

  closed(error: unknown, failed: boolean): void {
    if (failed) this.#resolve({ outcome: 'closed', forced: this.#forced, error });
    else this.#resolve(this.#forced ? CLOSED_FORCED : CLOSED);
  }

  orphaned(): void {
    this.#resolve(ORPHANED);
  }
}

/**
 * Bounded closes that share one graceful end and one forced end, as all the
 * closes of `closeAll()` do: instead of an AbortController, two races and
 * their promises per close, the closes wait in one pending set. When the
 * graceful phase ends every pending close is forced (its signal aborts, or is
 * born aborted); when the forced phase ends every close still pending is
 * orphaned. Same outcomes as {@link closeWithin} with those phase ends.
 */
export class CloseLane {
  readonly #pending = new Set<LaneClose>();
  /** Closes to start in the next microtask, so a close never runs inside its retire() call. */
  #queue: LaneClose[] = [];
  #forced = false;
  #over = false;

  constructor(graceful: Promise<void>, forced: Promise<void>) {
    void graceful.then(() => this.#forceAll());
    void forced.then(() => this.#orphanAll());
  }

  /** Closes `connection` (`ctx.detach` set when `detach`) within the lane's phase ends. */
  close(connection: Closable, detach = false): Promise<CloseOutcome> {
    return new Promise<CloseOutcome>((resolve) => {
      if (this.#queue.length === 0) queueMicrotask(() => this.#startQueued());
      this.#queue.push(new LaneClose(connection, resolve, detach, this.#forced));
    });
  }

  #startQueued(): void {
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) this.#start(item);
  }

  #start(item: LaneClose): void {
    const closing = item.start();
    if (this.#over) {
      // Started after the lane's forced end (only a retire that ran that late): orphaned at once.
      closing.catch(() => undefined);
      item.orphaned();
      return;
    }
    this.#pending.add(item);
    closing.then(
      () => this.#settle(item, undefined, false),
      (error: unknown) => this.#settle(item, error, true),
    );
  }

  #settle(item: LaneClose, error: unknown, failed: boolean): void {
    if (this.#pending.delete(item)) item.closed(error, failed);
  }

  #forceAll(): void {
    this.#forced = true;
    for (const item of this.#queue) item.force();
    for (const item of this.#pending) item.force();
  }

  #orphanAll(): void {
    this.#over = true;
    for (const item of this.#pending) item.orphaned();
    this.#pending.clear();
  }
}

type Settled = { readonly ok: true } | { readonly ok: false; readonly error: unknown };

/** Resolves with `TIMED_OUT` when the phase ends, or with the settled state of `work`, whichever is first. */
function within(work: Promise<Settled>, end: PhaseEnd, clock: Clock): Promise<Settled | typeof TIMED_OUT> {
  if (typeof end !== 'number') return Promise.race([work, end.then((): typeof TIMED_OUT => TIMED_OUT)]);
  let timer: ClockTimer | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = clock.setTimeout(() => resolve(TIMED_OUT), end);
  });
  return Promise.race([work, deadline]).finally(() => {
    if (timer !== undefined) clock.clearTimeout(timer);
  });
}

/**
 * Closes something in bounded time, whatever it does: a graceful phase (by
 * default `timeoutMs`), then its signal aborts (forced phase, another
 * `timeoutMs`), then the caller stops waiting (`'orphaned'`). A `close` that
 * throws synchronously or rejects counts as closed, with `error` set.
 */
export async function closeWithin(
  close: (ctx: CloseContext) => Promise<void>,
  phases: Pick<CloseSchedule, 'graceful' | 'forced'>,
  clock: Clock,
  detach = false,
): Promise<CloseOutcome> {
  const controller = new AbortController();
  const ctx: CloseContext = detach ? { signal: controller.signal, detach } : { signal: controller.signal };
  const work: Promise<Settled> = Promise.resolve()
    .then(() => close(ctx))
    .then(
      (): Settled => ({ ok: true }),
      (error: unknown): Settled => ({ ok: false, error }),
    );
  const graceful = await within(work, phases.graceful, clock);
  if (graceful !== TIMED_OUT) return settledOutcome(graceful, false);
  controller.abort(GRACEFUL_TIMED_OUT());
  const forced = await within(work, phases.forced, clock);
  if (forced !== TIMED_OUT) return settledOutcome(forced, true);
  return { outcome: 'orphaned', forced: true };
}

function settledOutcome(settled: Settled, forced: boolean): CloseOutcome {
  return settled.ok ? { outcome: 'closed', forced } : { outcome: 'closed', forced, error: settled.error };
}

/**
 * Waits for `done` until `end` (milliseconds from now, or a shared moment).
 * Resolves `true` when `done` settled in time, `false` when the deadline passed first.
 */
export async function waitWithin(done: Promise<unknown>, end: PhaseEnd, clock: Clock): Promise<boolean> {
  const settled = done.then(
    (): Settled => ({ ok: true }),
    (error: unknown): Settled => ({ ok: false, error }),
  );
  return (await within(settled, end, clock)) !== TIMED_OUT;
}
