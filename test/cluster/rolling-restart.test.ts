/**
 * A rolling restart of three example worker processes on one real Redis,
 * behind the round-robin front, under continuous load from 20 downstream
 * sessions: each worker in turn gets SIGTERM (it hands its sessions over:
 * `sessions.closeAll({ handover: true })` then `registry.closeAll({ handover: true })`)
 * and a new process takes its port. Every session's upstream counter must
 * continue exactly: no reset, no double count, no new upstream `initialize`,
 * and no failed call other than retryable ones (counted and reported).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Front, startFront } from '../../examples/cluster/front.js';
import { type WorkerProcess, startWorker } from '../../examples/cluster/worker-process.js';
import { startCounterUpstream } from '../../examples/shared/counter-upstream.js';
import type { McpHost } from '../../examples/shared/mcp-host.js';
import { type RedisServer, skipRedisSuites, startRedisServer } from '../fixtures/redis-server.js';

const SESSIONS = 20;
const TIMINGS = {
  HEARTBEAT_INTERVAL_MS: '200',
  OWNERSHIP_TTL_MS: '2000',
  REDIS_COMMAND_TIMEOUT_MS: '1000',
  REDIS_KEY_PREFIX: 'rolling-test:',
};
/** HTTP statuses a call may fail with while a worker hands over; nothing ran upstream for them. */
const RETRYABLE = new Set([421, 502, 503]);
/** Attempts per call before the test gives up on it (a retryable error that never clears is a failure). */
const MAX_ATTEMPTS = 50;

interface Tab {
  readonly client: Client;
  readonly sessionId: string;
  count: number;
  calls: number;
  /** Retryable failures by HTTP status. */
  readonly retried: Map<number, number>;
  maxCallMs: number;
}

async function connect(url: string): Promise<Tab> {
  const client = new Client({ name: 'rolling-test', version: '1.0.0' });
  // The standalone SSE stream of a worker that hands over ends; the client reconnects it. Calls are what count.
  client.onerror = () => {};
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, sessionId: transport.sessionId as string, count: 0, calls: 0, retried: new Map(), maxCallMs: 0 };
}

function retryable(error: unknown): boolean {
  return error instanceof StreamableHTTPError && error.code !== undefined && RETRYABLE.has(error.code);
}

/** One `increment`, retried on retryable answers only; returns the counter it read. */
async function increment(tab: Tab): Promise<number> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      // Well below the SDK's 60 s: a call that hangs fails the test while the workers' logs still say why.
      const result = await tab.client.callTool({ name: 'increment' }, undefined, { timeout: 20_000 });
      tab.calls++;
      tab.maxCallMs = Math.max(tab.maxCallMs, Date.now() - started);
      return Number((result.content as { text?: string }[])[0]?.text);
    } catch (error) {
      if (!retryable(error) || attempt === MAX_ATTEMPTS) {
        throw new Error(`session ${tab.sessionId} at ${tab.count}, attempt ${attempt} after ${Date.now() - started} ms`, { cause: error });
      }
      const status = (error as StreamableHTTPError).code as number;
      tab.retried.set(status, (tab.retried.get(status) ?? 0) + 1);
      // Back off a little (a client honouring Retry-After would wait longer), so a retry finds the next owner.
      await new Promise((resolve) => setTimeout(resolve, 20 * Math.min(attempt, 10)));
    }
  }
}

describe.skipIf(skipRedisSuites())('rolling restart of three workers under load', () => {
  let redis: RedisServer;
  let upstream: McpHost;
  let front: Front;
  let workers: WorkerProcess[] = [];
  const tabs: Tab[] = [];
  const gateways: { id: string; url: string }[] = [];

  const initializations = (): number => upstream.events.filter((e) => e.type === 'opened').length;
  const deletions = (): number => upstream.events.filter((e) => e.type === 'deleted').length;

  beforeAll(async () => {
    redis = await startRedisServer();
    upstream = await startCounterUpstream();
    gateways.push({ id: 'counter', url: upstream.url });
    workers = await Promise.all(['w1', 'w2', 'w3'].map((workerId) => startWorker({ workerId, redisUrl: redis.url, gateways, env: TIMINGS })));
    front = await startFront({ workers: workers.map((w) => w.origin) });
  }, 30_000);

  afterAll(async () => {
    await Promise.all(tabs.map((t) => t.client.close().catch(() => undefined)));
    await front?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await upstream?.close();
    await redis?.stop();
  }, 30_000);

  it('every counter continues exactly, no upstream session is re-initialized or ended, failures are retryable only', async () => {
    for (let i = 0; i < SESSIONS; i++) tabs.push(await connect(front.url));
    expect(initializations()).toBe(SESSIONS);

    let restarting = true;
    const load = tabs.map(async (tab) => {
      // Each session keeps calling until the restart is over, and a few times after.
      for (let after = 0; restarting || after < 3; after += restarting ? 0 : 1) {
        const value = await increment(tab);
        expect(value, 'the counter continues exactly (no reset, no double count)').toBe(tab.count + 1);
        tab.count = value;
        progressed();
      }
    });
    const failed = Promise.race(load.map((l) => l.then(() => new Promise<never>(() => {}))));

    const restarts: string[] = [];
    const retired: WorkerProcess[] = [];
    const rolling = (async () => {
      for (const [index, old] of workers.entries()) {
        // Let every session make progress on the full cluster between restarts.
        const before = tabs.map((t) => t.count);
        await Promise.race([failed, progress(() => tabs.every((t, i) => t.count > (before[i] as number)))]);
        const port = Number(new URL(old.origin).port);
        const stoppedAt = Date.now();
        await old.stop(10_000);
        const cut = old.logs.some((l) => l.level === 'warn' && String(l.msg).includes('still in flight'));
        const handover = old.logs.find((l) => l.msg === 'handover: upstream sessions detached, ownership given up');
        expect(handover, `${old.workerId} handed over on SIGTERM`).toBeDefined();
        const fresh = await startWorker({ workerId: `${old.workerId}b`, redisUrl: redis.url, gateways, env: TIMINGS, port });
        workers[index] = fresh;
        retired.push(old);
        restarts.push(
          `${old.workerId}→${fresh.workerId}: handover ${String(handover?.durationMs)} ms${cut ? ' (drain timed out)' : ''}, ` +
            `new process listening after ${Date.now() - stoppedAt} ms`,
        );
      }
    })();
    try {
      await Promise.race([rolling, failed]);
    } catch (error) {
      for (const w of [...workers, ...retired]) {
        for (const line of w.logs) if (line.level !== 'info' || String(line.msg).startsWith('handover')) console.log(w.workerId, JSON.stringify(line));
      }
      throw error;
    } finally {
      restarting = false;
      stopWaiting();
    }
    await Promise.all(load);

    for (const tab of tabs) {
      const result = await tab.client.callTool({ name: 'get' });
      expect(Number((result.content as { text?: string }[])[0]?.text)).toBe(tab.count);
    }
    expect(initializations(), 'no upstream initialize after the first ones').toBe(SESSIONS);
    expect(deletions(), 'no upstream session was ended').toBe(0);
    expect(upstream.openSessions()).toHaveLength(SESSIONS);

    const calls = tabs.reduce((n, t) => n + t.calls, 0);
    const retried = new Map<number, number>();
    for (const tab of tabs) for (const [status, n] of tab.retried) retried.set(status, (retried.get(status) ?? 0) + n);
    const failures = [...retried.values()].reduce((a, b) => a + b, 0);
    const maxCallMs = Math.max(...tabs.map((t) => t.maxCallMs));
    console.log(
      `rolling restart (${restarts.join('; ')}): ${calls} calls from ${SESSIONS} sessions, ` +
        `${failures} retryable failures (${[...retried].map(([status, n]) => `${n} × HTTP ${status}`).join(', ') || 'none'}), ` +
        `slowest call (retries included) ${maxCallMs} ms`,
    );
  }, 90_000);
});

const waiters = new Set<() => void>();

/** A call succeeded: wake the waiters of {@link progress}. */
function progressed(): void {
  for (const wake of [...waiters]) wake();
}

/** The test is over (passed or failed): nobody waits for progress any more. */
function stopWaiting(): void {
  for (const wake of [...waiters]) wake();
  waiters.clear();
  stopped = true;
}
let stopped = false;

/** Resolves once `done()` holds after some call succeeded (or the test stopped waiting). */
function progress(done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!done() && !stopped) return;
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  });
}
