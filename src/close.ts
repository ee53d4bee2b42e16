import type { Clock, ClockTimer } from './clock.js';
import type { CloseContext } from './factory.js';

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

type Settled = { readonly ok: true } | { readonly ok: false; readonly error: unknown };

/** Resolves with `TIMED_OUT` after `ms`, or with the settled state of `work`, whichever is first. */
function within(work: Promise<Settled>, ms: number, clock: Clock): Promise<Settled | typeof TIMED_OUT> {
  let timer: ClockTimer | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = clock.setTimeout(() => resolve(TIMED_OUT), ms);
  });
  return Promise.race([work, deadline]).finally(() => {
    if (timer !== undefined) clock.clearTimeout(timer);
  });
}

/**
 * Closes something in at most `2 * timeoutMs`, whatever it does: a graceful phase
 * of `timeoutMs`, then its signal aborts (forced phase) for another `timeoutMs`,
 * then the caller stops waiting (`'orphaned'`). A `close` that throws
 * synchronously or rejects counts as closed, with `error` set.
 */
export async function closeWithin(
  close: (ctx: CloseContext) => Promise<void>,
  timeoutMs: number,
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
  const graceful = await within(work, timeoutMs, clock);
  if (graceful !== TIMED_OUT) return settledOutcome(graceful, false);
  controller.abort(new DOMException('Graceful close timed out', 'TimeoutError'));
  const forced = await within(work, timeoutMs, clock);
  if (forced !== TIMED_OUT) return settledOutcome(forced, true);
  return { outcome: 'orphaned', forced: true };
}

function settledOutcome(settled: Settled, forced: boolean): CloseOutcome {
  return settled.ok ? { outcome: 'closed', forced } : { outcome: 'closed', forced, error: settled.error };
}

/**
 * Waits for `done` at most `timeoutMs`. Resolves `true` when `done` settled in
 * time, `false` when the deadline passed first.
 */
export async function waitWithin(done: Promise<unknown>, timeoutMs: number, clock: Clock): Promise<boolean> {
  const settled = done.then(
    (): Settled => ({ ok: true }),
    (error: unknown): Settled => ({ ok: false, error }),
  );
  return (await within(settled, timeoutMs, clock)) !== TIMED_OUT;
}
