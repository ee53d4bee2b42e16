/**
 * Runs a whole cluster on this machine: the demo counter upstream, N Express
 * proxy workers on one Redis, and the round-robin front before them.
 *
 * Run: `REDIS_URL=redis://127.0.0.1:6379 WORKERS=3 npx tsx examples/cluster/launch.ts`
 * then point an MCP client at the front's URL; `kill -9` a worker and watch
 * its sessions move (state included) to another one.
 */
import { startCounterUpstream } from '../shared/counter-upstream.js';
import { startFront } from './front.js';
import { type WorkerProcess, startWorker } from './worker-process.js';

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const count = Number(process.env.WORKERS ?? 3);
  const upstream = await startCounterUpstream();
  const gateways = [{ id: 'counter', url: upstream.url }];
  const workers: WorkerProcess[] = await Promise.all(
    Array.from({ length: count }, (_, i) => startWorker({ workerId: `worker-${i + 1}`, redisUrl, gateways })),
  );
  const front = await startFront({ workers: workers.map((w) => w.origin), port: Number(process.env.PORT ?? 3100) });
  console.log(`counter upstream: ${upstream.url}`);
  for (const w of workers) console.log(`${w.workerId}: ${w.url} (pid ${w.child.pid}; snapshot ${w.origin}/admin/registry)`);
  console.log(`round-robin front: ${front.url}`);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await front.close();
    await Promise.all(workers.map((w) => w.stop()));
    await upstream.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
