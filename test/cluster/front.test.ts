/**
 * The example round-robin front on its own, with plain HTTP servers as
 * workers: a worker that refuses connections is skipped by every request
 * however many run at once, and an answer cut by a dying worker ends the
 * client's request at once.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Front, startFront } from '../../examples/cluster/front.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A worker answering its own name. */
async function worker(name: string, onRequest?: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => {
    if (onRequest) return onRequest(res);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(name);
  });
  const url = await listen(server);
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return url;
}

/** An address nothing listens on any more: connections are refused. */
async function deadWorker(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

async function front(workers: string[]): Promise<Front> {
  const started = await startFront({ workers });
  cleanups.push(() => started.close());
  return started;
}

describe('the example round-robin front', () => {
  it('skips workers that refuse connections for every one of many concurrent requests', async () => {
    const live = await worker('live');
    const f = await front([await deadWorker(), await deadWorker(), live]);
    const answers = await Promise.all(
      Array.from({ length: 60 }, async () => {
        const res = await fetch(f.url, { method: 'POST', body: '{}' });
        return `${res.status} ${await res.text()}`;
      }),
    );
    expect(answers.filter((a) => a !== '200 live')).toEqual([]);
    expect(f.served.get(new URL(live).origin)).toBe(60);
  });

  it('ends the client request at once when the worker dies in the middle of its answer', async () => {
    let kill!: () => void;
    const dying = await worker('dying', (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\ndata: {}\n\n');
      kill = () => res.socket?.destroy();
    });
    const f = await front([dying]);
    const res = await fetch(f.url, { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    const startedAt = Date.now();
    kill();
    // Without the fix this read never settles (the client waits for its own timeout).
    await expect(reader.read()).rejects.toThrow();
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  });
});
