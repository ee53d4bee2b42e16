/**
 * node:http plumbing both example proxies share: listen before wiring (a
 * worker publishes its own address), and forward a request whose body a
 * framework already parsed to the worker that owns its session.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WorkerInfo, forwardToOwner } from 'mcp-upstream-registry';

/**
 * `signal` of a downstream request: aborts when the response closes before it
 * finished (the client went away). Made on first read, because on Node 20 every
 * AbortSignal is costly and the bridge reads it only for GET streams and new
 * sessions; a response that finished normally aborts nothing.
 */
export function closeSignal(res: ServerResponse): { readonly signal: AbortSignal } {
  let controller: AbortController | undefined;
  let gone = false;
  res.once('close', () => {
    if (res.writableFinished) return;
    gone = true;
    controller?.abort();
  });
  return {
    get signal(): AbortSignal {
      if (controller === undefined) {
        controller = new AbortController();
        if (gone) controller.abort();
      }
      return controller.signal;
    },
  };
}

/** How long a client may take to send a request; a slow (trickling) client is cut off with 408. */
export interface HttpTimeouts {
  /** Whole request (headers and body). Default 30 000. */
  readonly requestTimeoutMs?: number;
  /** Request headers. Default 10 000 (at most `requestTimeoutMs`). */
  readonly headersTimeoutMs?: number;
}

/** Node checks the timeouts this often, so a slow client is cut off at most this much after its timeout. */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/**
 * A node:http server listening on `host:port` (0: any free port), and its MCP
 * endpoint URL. Request and header timeouts bound how long a slow client can
 * hold a socket while sending; they do not limit responses (SSE streams stay open).
 */
export async function listenHttp(host: string, port: number, timeouts: HttpTimeouts = {}): Promise<{ server: Server; url: string }> {
  const requestTimeout = timeouts.requestTimeoutMs ?? 30_000;
  const server = createServer({
    requestTimeout,
    headersTimeout: Math.min(timeouts.headersTimeoutMs ?? 10_000, requestTimeout),
    connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, requestTimeout),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/mcp` };
}

/**
 * The web `Request` to forward: same method, path and headers; the body
 * (already parsed by the framework) serialized again, so its length header is dropped.
 */
export function rebuiltRequest(url: string, method: string, headers: Headers, body: unknown, signal?: AbortSignal): Request {
  const copy = new Headers(headers);
  copy.delete('content-length');
  const text = method === 'POST' && body !== undefined ? JSON.stringify(body) : undefined;
  return new Request(url, { method, headers: copy, body: text, ...(signal && { signal }) });
}

/** Node request headers as web `Headers`. */
export function webHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

/** Resolves when `res` can take more (`drain`) or is gone (`close`). */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/**
 * Writes a web `Response` to a Node response: the head, then the body as it
 * streams, with backpressure. An event stream without a known length (an open
 * SSE stream) gets its head at once; a body of known length goes out with its
 * head in one write. A client that goes away cancels the body.
 */
export async function writeWebResponse(res: ServerResponse, response: Response): Promise<void> {
  // setHeader, not writeHead(status, headers): what runs at 'finish' (the request log) reads them with getHeader.
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value);
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.writeHead(response.status);
  if (response.body === null) {
    res.end();
    return;
  }
  if (!response.headers.has('content-length')) res.flushHeaders();
  const reader = response.body.getReader();
  const cancel = (): void => void reader.cancel().catch(() => undefined);
  res.once('close', cancel);
  // Gone before we started (e.g. while the answer was held): 'close' will not come again, and writes would wait forever.
  if (res.destroyed) cancel();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await writable(res);
      if (res.destroyed) return;
    }
    res.end();
  } catch {
    // The body failed mid-stream: the status is out, so cutting the connection is the only way to say so.
    res.destroy();
  } finally {
    res.off('close', cancel);
  }
}

/**
 * Forwards a Node request (body already parsed) to `owner` with `forward` and
 * streams the answer (SSE included) back. Resolves false, having written
 * nothing, when `forward` answers `undefined` (dispatch the request again).
 */
export async function forwardNodeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  owner: WorkerInfo,
  body: unknown,
  forward: (request: Request, owner: WorkerInfo) => Promise<Response | undefined> = forwardToOwner,
): Promise<boolean> {
  const aborted = new AbortController();
  res.on('close', () => aborted.abort());
  const url = new URL(req.url ?? '/mcp', 'http://worker.internal').href;
  let response: Response | undefined;
  try {
    response = await forward(rebuiltRequest(url, req.method ?? 'GET', webHeaders(req), body, aborted.signal), owner);
  } catch (error) {
    if (aborted.signal.aborted) return true; // the client went away
    throw error;
  }
  if (response === undefined) return false;
  await writeWebResponse(res, response);
  return true;
}
