/**
 * A tiny round-robin HTTP front for the example workers, standing in for a
 * load balancer: each request goes to the next worker, so one downstream
 * session's requests land on every worker. Streams both ways (SSE included),
 * never buffers. A worker that refuses the connection is skipped for that
 * request (nothing of the request was sent yet): the request then tries the
 * next workers in its own order, never the shared counter, so it reaches a
 * live worker whatever other requests do meanwhile. A worker that fails after
 * that ends the request at once: a 502 before its answer began, a cut answer
 * stream after (so the client's call fails now, not at its own timeout).
 *
 * Run: `WORKERS=http://127.0.0.1:3101,http://127.0.0.1:3102 PORT=3100 npx tsx examples/cluster/front.ts`
 */
import { Agent, createServer, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { HOP_BY_HOP_HEADERS } from 'mcp-upstream-registry';

/** Options of {@link startFront}. */
export interface FrontOptions {
  /** Base URLs of the workers, e.g. `http://127.0.0.1:3101`. */
  readonly workers: readonly string[];
  readonly host?: string;
  /** Default 0: any free port. */
  readonly port?: number;
}

/** A running front. */
export interface Front {
  /** The MCP endpoint clients use, e.g. `http://127.0.0.1:3100/mcp`. */
  readonly url: string;
  /** Requests each worker (by base URL) answered so far. */
  readonly served: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([...HOP_BY_HOP_HEADERS, 'host']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const listed = new Set((String(headers.connection ?? '')).split(',').map((t) => t.trim().toLowerCase()));
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name) && !listed.has(name) && !name.startsWith('proxy-')));
}

function refuse(res: ServerResponse, message: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(502, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }));
}

/** Starts the front on `host:port` (default 127.0.0.1, any free port). */
export async function startFront(options: FrontOptions): Promise<Front> {
  if (options.workers.length === 0) throw new Error('startFront: no workers');
  const workers = options.workers.map((w) => new URL(w));
  const served = new Map(workers.map((w) => [w.origin, 0]));
  // One connection per request: a socket to a worker that died is never reused.
  const agent = new Agent({ keepAlive: false });
  let next = 0;

  function attempt(req: IncomingMessage, res: ServerResponse, first: number, tried: number): void {
    if (tried >= workers.length) {
      refuse(res, 'No worker is reachable');
      return;
    }
    const worker = workers[(first + tried) % workers.length] as URL;
    const headers = { ...endToEnd(req.headers), host: worker.host };
    const out = request(
      { protocol: worker.protocol, hostname: worker.hostname, port: worker.port, method: req.method, path: req.url, headers, agent },
      (answer) => {
        served.set(worker.origin, (served.get(worker.origin) ?? 0) + 1);
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        res.flushHeaders();
        // pipe() never ends `res` when the worker dies mid-answer: cut the client's stream too.
        answer.once('close', () => {
          if (!answer.complete) res.destroy();
        });
        answer.pipe(res);
      },
    );
    let sent = false;
    out.on('socket', (socket) => {
      const send = (): void => {
        sent = true;
        req.pipe(out);
      };
      if (socket.connecting) socket.once('connect', send);
      else send();
    });
    out.on('error', () => {
      if (sent) refuse(res, 'The worker failed');
      else attempt(req, res, first, tried + 1);
    });
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
  }

  const server = createServer((req, res) => {
    const first = next;
    next = (next + 1) % workers.length;
    attempt(req, res, first, 0);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/mcp`,
    served,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      agent.destroy();
    },
  };
}

async function main(): Promise<void> {
  const workers = (process.env.WORKERS ?? '').split(',').filter((w) => w !== '');
  const front = await startFront({ workers, port: Number(process.env.PORT ?? 3100) });
  console.log(`round-robin front listening on ${front.url} over ${workers.length} workers`);
  const stop = (): void => void front.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
