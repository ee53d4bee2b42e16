import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../src/errors.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

describe('ManualClock', () => {
  it('starts at startMs and only moves when told', async () => {
    const clock = new ManualClock(1_000);
    expect(clock.now()).toBe(1_000);
    await clock.advance(250);
    expect(clock.now()).toBe(1_250);
    clock.tick(50);
    expect(clock.now()).toBe(1_300);
  });

  it('fires timers in due order, ties in creation order, with now() at each due time', async () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const record = (label: string) => () => fired.push(`${label}@${clock.now()}`);
    clock.setTimeout(record('c'), 30);
    clock.setTimeout(record('a1'), 10);
    clock.setTimeout(record('b'), 20);
    clock.setTimeout(record('a2'), 10);
    await clock.advance(25);
    expect(fired).toEqual(['a1@10', 'a2@10', 'b@20']);
    expect(clock.now()).toBe(25);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(5);
    expect(fired).toEqual(['a1@10', 'a2@10', 'b@20', 'c@30']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires a timer scheduled by a callback in the same advance when it falls due', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 10);
      clock.setTimeout(() => fired.push(clock.now()), 100);
    }, 10);
    await clock.advance(50);
    expect(fired).toEqual([10, 20]);
    expect(clock.pendingTimers).toBe(1);
  });

  it('lets promise callbacks run between timers, so a timer armed after an await fires in the same advance', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(async () => {
      await Promise.resolve();
      await Promise.resolve();
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      clock.setTimeout(() => fired.push(clock.now()), 5);
    }, 10);
    await clock.advance(20);
    expect(fired).toEqual([15]);
  });

  it('flushes pending promise callbacks before the first timer and at the end', async () => {
    const clock = new ManualClock();
    let chainDone = false;
    const chain = async (): Promise<void> => {
      for (let i = 0; i < 5; i += 1) await Promise.resolve();
      chainDone = true;
    };
    void chain();
    await clock.advance(0);
    expect(chainDone).toBe(true);
  });

  it('tick() is synchronous and does not run promise callbacks', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    let continued = false;
    clock.setTimeout(() => {
      fired.push(clock.now());
      void Promise.resolve().then(() => {
        continued = true;
      });
    }, 10);
    clock.setTimeout(() => fired.push(clock.now()), 20);
    clock.tick(20);
    expect(fired).toEqual([10, 20]);
    expect(continued).toBe(false);
  });

  it('clearTimeout cancels; unknown, foreign and fired handles are ignored', async () => {
    const clock = new ManualClock();
    let fired = 0;
    const cancelled = clock.setTimeout(() => {
      fired += 10;
    }, 10);
    const kept = clock.setTimeout(() => {
      fired += 1;
    }, 10);
    clock.clearTimeout(cancelled);
    clock.clearTimeout({});
    clock.clearTimeout(42);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(10);
    clock.clearTimeout(kept);
    expect(fired).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('treats a negative or NaN delay as 0', async () => {
    const clock = new ManualClock(100);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), -5);
    clock.setTimeout(() => fired.push(clock.now()), Number.NaN);
    await clock.advance(0);
    expect(fired).toEqual([100, 100]);
  });

  it('reports pending timers in firing order, with unref, and the time to the next one', () => {
    const clock = new ManualClock();
    expect(clock.nextTimerIn()).toBeUndefined();
    clock.setTimeout(() => {}, 50, { unref: true });
    clock.setTimeout(() => {}, 20);
    expect(clock.timers()).toEqual([
      { dueAt: 20, unref: false },
      { dueAt: 50, unref: true },
    ]);
    expect(clock.nextTimerIn()).toBe(20);
  });

  it('runAll() fires everything, including timers armed on the way', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 1_000);
    }, 500);
    await clock.runAll();
    expect(fired).toEqual([500, 1_500]);
    expect(clock.now()).toBe(1_500);
    expect(clock.pendingTimers).toBe(0);
  });

  it('runAll() stops a timer that re-arms forever at its cap', async () => {
    const clock = new ManualClock(0, { maxRunAllTimers: 50 });
    let count = 0;
    const rearm = (): void => {
      count += 1;
      clock.setTimeout(rearm, 1);
    };
    clock.setTimeout(rearm, 1);
    await expect(clock.runAll()).rejects.toThrow(/more than 50 timers/);
    expect(count).toBe(50);
  });

  it('rejects advance() with the error of a throwing callback, leaving later timers pending', async () => {
    const clock = new ManualClock();
    const boom = new Error('boom');
    clock.setTimeout(() => {
      throw boom;
    }, 10);
    clock.setTimeout(() => {}, 20);
    await expect(clock.advance(30)).rejects.toBe(boom);
    expect(clock.now()).toBe(10);
    expect(clock.pendingTimers).toBe(1);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('rejects advance(%s) and tick(%s)', async (ms) => {
    const clock = new ManualClock();
    await expect(clock.advance(ms)).rejects.toBeInstanceOf(InvalidOptionsError);
    expect(() => clock.tick(ms)).toThrow(InvalidOptionsError);
    expect(clock.now()).toBe(0);
  });

  it('rejects bad constructor arguments', () => {
    expect(() => new ManualClock(Number.NaN)).toThrow(InvalidOptionsError);
    expect(() => new ManualClock(0, { flushTurns: -1 })).toThrow(InvalidOptionsError);
    expect(() => new ManualClock(0, { maxRunAllTimers: 1.5 })).toThrow(InvalidOptionsError);
  });
});
