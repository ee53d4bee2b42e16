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
}

/** Every phase lasts `timeoutMs` from its own start. */
export function perPhaseSchedule(timeoutMs: number): CloseSchedule {
  return { drain: timeoutMs, graceful: timeoutMs, forced: timeoutMs };
}

/**
 * Phase ends shared by many retirements started now: `timeoutMs`, `2 x` and
 * `3 x timeoutMs` from now. `cancel()` clears the timers once nobody waits.
 */
export function sharedPhaseEnds(timeoutMs: number, clock: Clock): { readonly ends: readonly Promise<void>[]; cancel(): void } {
  const timers: ClockTimer[] = [];
  const ends = [1, 2, 3].map(
    (n) =>
      new Promise<void>((resolve) => {
        timers.push(clock.setTimeout(resolve, n * timeoutMs));
      }),
  );
  return {
    ends,
    cancel: () => {
      for (const timer of timers) clock.clearTimeout(timer);
    },
  };
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
  controller.abort(new DOMException('Graceful close timed out', 'TimeoutError'));
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
