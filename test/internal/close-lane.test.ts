/**
 * CloseLane: the closes of `closeAll()`, sharing one graceful end and one
 * forced end. Same outcomes as `closeWithin` with those ends, without a timer,
 * race or AbortController per close.
 */
import { describe, expect, it } from 'vitest';
import type { CloseContext } from '../../src/factory.js';
import { type CloseLane, type CloseOutcome, closeWithin, sharedPhaseEnds } from '../../src/internal/close.js';
import { ManualClock } from '../../src/testing/index.js';

/** A connection whose close is driven by the test. */
function connection(behave: (ctx: CloseContext) => Promise<void>) {
  const contexts: CloseContext[] = [];
  return {
    contexts,
    close(ctx: CloseContext): Promise<void> {
      contexts.push(ctx);
      return behave(ctx);
    },
  };
}

const never = (): Promise<void> => new Promise<void>(() => {});
const untilAbort = (ctx: CloseContext): Promise<void> =>
  new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));

function lane() {
  const clock = new ManualClock();
  const shared = sharedPhaseEnds(100, clock);
  return { clock, shared, lane: shared.idle.lane as CloseLane };
}

describe('CloseLane', () => {
  it('starts each close after the call that asked for it, never inside it', async () => {
    const { lane: l, shared } = lane();
    const conn = connection(() => Promise.resolve());
    const closing = l.close(conn);
    expect(conn.contexts).toHaveLength(0);
    await expect(closing).resolves.toEqual({ outcome: 'closed', forced: false });
    expect(conn.contexts).toHaveLength(1);
    shared.cancel();
  });

  it('creates no abort signal for a close that never reads it', async () => {
    const { lane: l, shared } = lane();
    const Original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      await l.close(connection(() => Promise.resolve()));
      expect(made).toBe(0);
      await l.close(connection((ctx) => (ctx.signal.aborted ? Promise.reject(new Error('aborted')) : Promise.resolve())));
      expect(made).toBe(1);
    } finally {
      globalThis.AbortController = Original;
    }
    shared.cancel();
  });

  it('reports a close that throws or rejects as closed with its error', async () => {
    const { lane: l, shared } = lane();
    const boom = new Error('boom');
    const thrower = { close: (): Promise<void> => { throw boom; } };
    await expect(l.close(thrower)).resolves.toEqual({ outcome: 'closed', forced: false, error: boom });
    await expect(l.close(connection(() => Promise.reject(boom)))).resolves.toEqual({ outcome: 'closed', forced: false, error: boom });
    shared.cancel();
  });

  it('aborts the pending closes at the graceful end and orphans what is left at the forced end', async () => {
    const { lane: l, clock, shared } = lane();
    const obedient = connection(untilAbort);
    const stubborn = connection(never);
    const outcomes: CloseOutcome[] = [];
    const a = l.close(obedient).then((o) => outcomes.push(o));
    const b = l.close(stubborn).then((o) => outcomes.push(o));
    await clock.advance(99);
    expect(obedient.contexts[0]?.signal.aborted).toBe(false);
    await clock.advance(1);
    await a;
    expect(outcomes).toEqual([{ outcome: 'closed', forced: true }]);
    expect(stubborn.contexts[0]?.signal.aborted).toBe(true);
    expect(stubborn.contexts[0]?.signal.reason).toMatchObject({ name: 'TimeoutError' });
    await clock.advance(99);
    expect(outcomes).toHaveLength(1);
    await clock.advance(1);
    await b;
    expect(outcomes[1]).toEqual({ outcome: 'orphaned', forced: true });
    shared.cancel();
    expect(clock.pendingTimers).toBe(0);
  });

  it('hands a close that reads its signal only after the graceful end an aborted one', async () => {
    const { lane: l, clock, shared } = lane();
    let finish!: () => void;
    const conn = connection(() => new Promise<void>((resolve) => {
      finish = resolve;
    }));
    const closing = l.close(conn);
    await clock.advance(100);
    const ctx = conn.contexts[0] as CloseContext;
    expect(ctx.signal.aborted).toBe(true);
    finish();
    await expect(closing).resolves.toEqual({ outcome: 'closed', forced: true });
    shared.cancel();
  });

  it('passes detach only when asked', async () => {
    const { lane: l, shared } = lane();
    const conn = connection(() => Promise.resolve());
    await l.close(conn, true);
    await l.close(conn);
    expect(conn.contexts.map((c) => c.detach === true)).toEqual([true, false]);
    shared.cancel();
  });

  it('ends like closeWithin with the same phase ends', async () => {
    const behaviours = [() => Promise.resolve(), untilAbort, never, () => Promise.reject(new Error('x'))];
    for (const behave of behaviours) {
      const clock = new ManualClock();
      const shared = sharedPhaseEnds(100, clock);
      const [first, second] = shared.ends;
      const viaLane = (shared.idle.lane as CloseLane).close(connection(behave));
      const viaRaces = closeWithin((ctx) => behave(ctx), { graceful: first, forced: second }, clock);
      await clock.advance(200);
      const [laneOutcome, raceOutcome] = await Promise.all([viaLane, viaRaces]);
      expect({ ...laneOutcome, error: laneOutcome.error === undefined ? undefined : 'error' }).toEqual({
        ...raceOutcome,
        error: raceOutcome.error === undefined ? undefined : 'error',
      });
      shared.cancel();
    }
  });
});
