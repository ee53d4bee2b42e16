/**
 * nodeHttpFetch against plain node:http servers on 127.0.0.1: what it keeps
 * of Fetch (statuses, headers, streaming bodies, network errors, aborts,
 * decoding, redirect modes), what it leaves to the fallback, keep-alive and
 * destroy(), and its option checks.
 */
import { type IncomingMessage, type Server, type ServerResponse, Agent as HttpAgent, createServer } from 'node:http';
import { type AddressInfo, type Socket, createServer as createNetServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { classifyError } from '../../src/classify.js';
import { InvalidOptionsError } from '../../src/errors.js';
import { deferred } from '../../src/internal/deferred.js';
import { type NodeHttpFetch, nodeHttpFetch } from '../../src/node/index.js';

interface TestServer {
  readonly url: string;
  readonly requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
  /** Connections accepted, and the ones closed since. */
  readonly connections: { opened: number; closed: number };
  /** `server.keepAliveTimeout`: 0 sends no Keep-Alive hint and never closes an idle socket. */
  setKeepAliveTimeout(ms: number): void;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: TestServer[] = [];
const fetches: NodeHttpFetch[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const fetch of fetches.splice(0)) fetch.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(handler: Handler): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const connections = { opened: 0, closed: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', (socket: Socket) => {
    connections.opened++;
    sockets.add(socket);
    socket.once('close', () => {
      connections.closed++;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const running: TestServer = {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    connections,
    setKeepAliveTimeout: (ms) => {
      server.keepAliveTimeout = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
  servers.push(running);
  return running;
}

function made(options?: Parameters<typeof nodeHttpFetch>[0]): NodeHttpFetch {
  const fetch = nodeHttpFetch(options);
  fetches.push(fetch);
  return fetch;
}

const MANUAL = { redirect: 'manual' } as const;

describe('nodeHttpFetch: requests it sends itself', () => {
  it('sends method, headers and body in one request and answers a standard Response', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'up-1', 'set-cookie': ['a=1', 'b=2'] });
      res.end('{"ok":true}');
    });
    const fetch = made();
    const headers = new Headers({ 'Content-Type': 'application/json', 'X-Tenant': 'acme' });
    const response = await fetch(new URL(server.url), { ...MANUAL, method: 'POST', headers, body: '{"jsonrpc":"2.0"}' });

    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.headers.get('mcp-session-id')).toBe('up-1');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toEqual({ ok: true });
    const [seen] = server.requests;
    expect(seen).toMatchObject({ method: 'POST', url: '/mcp', body: '{"jsonrpc":"2.0"}' });
    expect(seen?.headers).toMatchObject({ 'content-type': 'application/json', 'x-tenant': 'acme', 'content-length': '17', accept: '*/*' });
    expect(seen?.headers['transfer-encoding']).toBeUndefined();
  });

  it('takes headers as a record or as pairs, bytes and URLSearchParams as bodies', async () => {
    const server = await serve((_req, res) => res.end());
    const fetch = made();
    await fetch(server.url, { ...MANUAL, method: 'POST', headers: { accept: 'text/event-stream' }, body: new TextEncoder().encode('bytes') });
    await fetch(server.url, { ...MANUAL, method: 'POST', headers: [['x-a', '1']], body: new URLSearchParams({ grant_type: 'x y' }) });
    expect(server.requests[0]).toMatchObject({ body: 'bytes', headers: { accept: 'text/event-stream' } });
    expect(server.requests[1]).toMatchObject({
      body: 'grant_type=x+y',
      headers: { 'x-a': '1', 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    });
  });

  it('streams an event-stream body as it arrives, before the answer ends', async () => {
    const finish = deferred<void>();
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      void finish.promise.then(() => res.end('data: last\n\n'));
    });
    const fetch = made();
    const response = await fetch(server.url, MANUAL);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const first = await reader.read();
    expect(decoder.decode(first.value)).toBe('data: first\n\n');
    finish.resolve();
    let rest = '';
    for (let read = await reader.read(); !read.done; read = await reader.read()) rest += decoder.decode(read.value);
    expect(rest).toBe('data: last\n\n');
  });

  it('answers statuses without a body with a null body (HEAD, 204, 304)', async () => {
    const server = await serve((req, res) => {
      res.writeHead(req.url === '/mcp?s=204' ? 204 : req.url === '/mcp?s=304' ? 304 : 200, { 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'x');
    });
    const fetch = made();
    expect((await fetch(server.url, { ...MANUAL, method: 'HEAD' })).body).toBeNull();
    expect((await fetch(`${server.url}?s=204`, MANUAL)).body).toBeNull();
    expect((await fetch(`${server.url}?s=304`, MANUAL)).status).toBe(304);
  });

  it('passes error statuses on as responses, as Fetch does', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"gone"}');
    });
    const response = await made()(server.url, { ...MANUAL, method: 'DELETE' });
    expect(response.status).toBe(404);
    expect(response.ok).toBe(false);
    expect(await response.text()).toBe('{"error":"gone"}');
  });

  it('decodes gzip bodies', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync('{"zipped":true}'));
    });
    expect(await (await made()(server.url, MANUAL)).json()).toEqual({ zipped: true });
  });

  it("returns a redirect as it is with 'manual', and fails it with 'error'", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(307, { location: '/elsewhere' });
      res.end();
    });
    const fetch = made();
    const manual = await fetch(server.url, { ...MANUAL, method: 'POST', body: '{}' });
    expect(manual.status).toBe(307);
    expect(manual.headers.get('location')).toBe('/elsewhere');
    const error = await fetch(server.url, { redirect: 'error' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('fetch failed');
    expect(server.requests).toHaveLength(2);
  });

  it("fails like Fetch when nothing listens: TypeError('fetch failed'), the socket error as cause, classified 'transport'", async () => {
    const server = await serve(() => undefined);
    await server.close();
    const error = await made()(server.url, MANUAL).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('fetch failed');
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(classifyError(error)).toBe('transport');
  });

  it('rejects with the signal reason: aborted before, while waiting for the head, and mid-body', async () => {
    const headSent = deferred<void>();
    const server = await serve((req, res) => {
      if (req.url === '/mcp?hang') return; // never answers
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      headSent.resolve();
    });
    const fetch = made();

    const before = new AbortController();
    before.abort(new Error('before'));
    await expect(fetch(server.url, { ...MANUAL, signal: before.signal })).rejects.toThrow('before');
    expect(server.requests).toHaveLength(0);

    const waiting = new AbortController();
    const pending = fetch(`${server.url}?hang`, { ...MANUAL, signal: waiting.signal });
    await expect.poll(() => server.requests.length).toBe(1);
    waiting.abort(new Error('waiting'));
    await expect(pending).rejects.toThrow('waiting');

    const midBody = new AbortController();
    const response = await fetch(server.url, { ...MANUAL, signal: midBody.signal });
    await headSent.promise;
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    midBody.abort(new Error('mid-body'));
    await expect(reader.read()).rejects.toThrow('mid-body');
  });

  it('fails a request whose head never comes after 300 s, as undici does, classified timeout, and frees the socket', async () => {
    const reached = deferred<void>();
    const server = await serve(() => reached.resolve()); // takes the request, never answers
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const settled = made()(server.url, { ...MANUAL, method: 'POST', body: '{}' }).then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await reached.promise;
    vi.advanceTimersByTime(299_999);
    expect(await Promise.race([settled, new Promise((resolve) => setImmediate(resolve, 'pending'))])).toBe('pending');
    vi.advanceTimersByTime(1);
    const error = await settled;
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('fetch failed');
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(classifyError(error)).toBe('timeout');
    vi.useRealTimers();
    await expect.poll(() => server.connections.closed).toBe(1);
  });

  it('leaves no timer behind once the head came, the request failed or was aborted', async () => {
    const server = await serve((req, res) => {
      if (req.url !== '/mcp?hang') res.end('{}');
    });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const fetch = made();
    await (await fetch(server.url, MANUAL)).text();
    const waiting = new AbortController();
    const pending = fetch(`${server.url}?hang`, { ...MANUAL, signal: waiting.signal });
    waiting.abort(new Error('gone'));
    await expect(pending).rejects.toThrow('gone');
    expect(vi.getTimerCount()).toBe(0);
    // A header value Headers takes and node:http refuses: the request is never made.
    await expect(fetch(server.url, { ...MANUAL, headers: { 'x-odd': 'a\x7fb' } })).rejects.toThrow(TypeError);
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('keeps an answer whose reason phrase new Response refuses (DEL, control characters), with an empty statusText, as undici does', async () => {
    const raw = createNetServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 200 O\x7fK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}', 'latin1'));
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    try {
      const response = await made()(`http://127.0.0.1:${(raw.address() as AddressInfo).port}/mcp`, MANUAL);
      expect(response.status).toBe(200);
      expect(response.statusText).toBe('');
      expect(await response.json()).toEqual({});
    } finally {
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });

  it('reuses one keep-alive connection, also after a body was cancelled unread', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url === '/mcp?big' ? `"${'x'.repeat(100_000)}"` : '{}');
    });
    const fetch = made();
    for (let i = 0; i < 5; i++) await (await fetch(server.url, { ...MANUAL, method: 'POST', body: '{}' })).json();
    expect(server.connections.opened).toBe(1);
    await (await fetch(`${server.url}?big`, MANUAL)).body?.cancel();
    await (await fetch(server.url, MANUAL)).json();
    expect(server.requests).toHaveLength(7);
  });

  it('closes a socket idle for 4 s (undici\'s keepAliveTimeout) when the server sends no Keep-Alive hint, and not one that is busy', async () => {
    // Real time (socket timeouts are not on the fake clock): 4 s, bounds generous.
    const server = await serve((req, res) => {
      if (req.url === '/mcp?stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: one\n\n');
        return; // stays open, idle, past the idle timeout
      }
      res.end('{}');
    });
    server.setKeepAliveTimeout(0); // no hint, never closes an idle socket itself (as uvicorn's before its 5 s)
    const fetch = made();
    const stream = await fetch(`${server.url}?stream`, MANUAL);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const started = Date.now();
    await (await fetch(server.url, { ...MANUAL, method: 'POST', body: '{}' })).text();
    await expect.poll(() => server.connections.closed, { timeout: 10_000, interval: 100 }).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500);
    // The busy stream's socket was idle as long, and is still open.
    expect(server.connections.opened - server.connections.closed).toBe(1);
    await reader.cancel();
  }, 20_000);

  it('destroy() closes the idle sockets of the agents it made, not of agents it was given', async () => {
    const server = await serve((_req, res) => res.end('{}'));
    const own = made();
    await (await own(server.url, MANUAL)).text();
    expect(server.connections).toEqual({ opened: 1, closed: 0 });
    own.destroy();
    await expect.poll(() => server.connections.closed).toBe(1);

    const agent = new HttpAgent({ keepAlive: true });
    const given = made({ httpAgent: agent });
    await (await given(server.url, MANUAL)).text();
    given.destroy();
    expect(Object.keys(agent.freeSockets)).toHaveLength(1);
    agent.destroy();
    await expect.poll(() => server.connections.closed).toBe(2);
  });
});

describe('nodeHttpFetch: an event stream answering a POST', () => {
  const RESULT = '{"jsonrpc":"2.0","id":1,"result":{}}';
  const POST = { ...MANUAL, method: 'POST', body: '{}' };

  it('hands a whole one-message answer over as JSON, other headers kept', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'up-1' });
      res.end(`event: message\ndata: ${RESULT}\n\n`);
    });
    const response = await made()(server.url, POST);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('mcp-session-id')).toBe('up-1');
    expect(await response.json()).toEqual(JSON.parse(RESULT));
  });

  it('keeps an answer with event ids an event stream, byte for byte', async () => {
    const body = `id: 1\ndata: \n\nid: 2\ndata: ${RESULT}\n\n`;
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(body);
    });
    const response = await made()(server.url, POST);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(await response.text()).toBe(body);
  });

  it('streams an answer whose first event comes before its end: the event is not held back', async () => {
    const finish = deferred<void>();
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n');
      void finish.promise.then(() => res.end(`data: ${RESULT}\n\n`));
    });
    // Resolves while the answer is still open: the progress event is readable at once.
    const response = await made()(server.url, POST);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('notifications/progress');
    finish.resolve();
    let rest = '';
    for (let read = await reader.read(); !read.done; read = await reader.read()) rest += new TextDecoder().decode(read.value);
    expect(rest).toBe(`data: ${RESULT}\n\n`);
  });

  it('resolves, after a bounded wait, an answer that stays open without an event (a 200 to a notification)', async () => {
    // The SDK awaits the fetch of a notification and then cancels its body: a fetch waiting for an event waited forever.
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
    });
    const response = await made()(server.url, POST);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    await response.body?.cancel();
  });

  it('resolves, as undici does, an answer cut before it is whole: its body fails with the socket error after what came', async () => {
    // A rejected fetch fails the call as a lost connection (the registry retires the session); a failed body is a
    // dropped stream to the SDK, which the death watch judges with a ping (the upstream may be alive: a proxy cut it).
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"jsonrpc":"2.0",');
      setImmediate(() => res.socket?.destroy());
    });
    const response = await made()(server.url, POST);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: {"jsonrpc":"2.0",');
    const error = await reader.read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(classifyError(error)).toBe('transport');
  });

  it('rejects with the signal reason when aborted while the answer is not whole yet', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"jsonrpc":"2.0",');
    });
    const abort = new AbortController();
    const pending = made()(server.url, { ...POST, signal: abort.signal });
    await expect.poll(() => server.requests.length).toBe(1);
    abort.abort(new Error('gave up'));
    await expect(pending).rejects.toThrow('gave up');
  });
});

describe('nodeHttpFetch: what it leaves to the fallback', () => {
  it('hands on requests that want redirects followed, streamed bodies and other schemes, with their arguments', async () => {
    const calls: Array<[string | URL, RequestInit | undefined]> = [];
    const answer = new Response('from fallback');
    const fetch = made({
      fallback: async (url, init) => {
        calls.push([url, init]);
        return answer;
      },
    });
    const follow = { method: 'GET' };
    const streamed = { ...MANUAL, method: 'POST', body: new ReadableStream(), duplex: 'half' } as RequestInit;
    expect(await fetch('http://127.0.0.1:1/oauth', follow)).toBe(answer);
    expect(await fetch('http://127.0.0.1:1/mcp', streamed)).toBe(answer);
    expect(await fetch('data:text/plain,hi', MANUAL)).toBe(answer);
    expect(calls).toEqual([
      ['http://127.0.0.1:1/oauth', follow],
      ['http://127.0.0.1:1/mcp', streamed],
      ['data:text/plain,hi', MANUAL],
    ]);
  });
});

describe('nodeHttpFetch over https', () => {
  const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url)));

  async function serveTls(): Promise<{ url: string; close(): Promise<void> }> {
    const server = createHttpsServer({ cert: fixture('127.0.0.1-cert.pem'), key: fixture('127.0.0.1-key.pem') }, (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ secure: (req.socket as TLSSocket).encrypted === true }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `https://127.0.0.1:${port}/mcp`,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }

  it('verifies the upstream certificate by default, and trusts one given through httpsAgent', async () => {
    const server = await serveTls();
    const agent = new HttpsAgent({ keepAlive: true, ca: fixture('127.0.0.1-cert.pem') });
    try {
      const refused = await made()(server.url, { ...MANUAL, method: 'POST', body: '{}' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TypeError);
      expect(((refused as Error).cause as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      const trusted = made({ httpsAgent: agent });
      expect(await (await trusted(server.url, { ...MANUAL, method: 'POST', body: '{}' })).json()).toEqual({ secure: true });
    } finally {
      agent.destroy();
      await server.close();
    }
  });
});

describe('nodeHttpFetch: bad requests and its own fallback', () => {
  it('rejects, without throwing, a URL it cannot parse and a GET or HEAD with a body', async () => {
    const fetch = made();
    const relative = fetch('/mcp', MANUAL);
    expect(relative).toBeInstanceOf(Promise);
    await expect(relative).rejects.toBeInstanceOf(TypeError);
    await expect(fetch('http://127.0.0.1:1/mcp', { ...MANUAL, body: 'x' })).rejects.toThrow(/GET\/HEAD/);
    await expect(fetch('http://127.0.0.1:1/mcp', { ...MANUAL, method: 'HEAD', body: 'x' })).rejects.toThrow(/GET\/HEAD/);
  });

  it('installed as globalThis.fetch, hands what it does not send to the fetch that was global before, not to itself', async () => {
    const original = globalThis.fetch;
    const seen: string[] = [];
    const before = (async (url: string | URL) => {
      seen.push(String(url));
      return new Response('from the earlier fetch');
    }) as typeof fetch;
    globalThis.fetch = before;
    try {
      const fetch = made();
      globalThis.fetch = fetch as typeof globalThis.fetch;
      const answer = await fetch('http://127.0.0.1:1/.well-known/oauth-protected-resource');
      expect(await answer.text()).toBe('from the earlier fetch');
      expect(seen).toEqual(['http://127.0.0.1:1/.well-known/oauth-protected-resource']);
    } finally {
      globalThis.fetch = original;
    }
  });
});

describe('nodeHttpFetch options', () => {
  it.each([
    [{ maxSocketsPerHost: 0 }, 'maxSocketsPerHost'],
    [{ maxSocketsPerHost: 1.5 }, 'maxSocketsPerHost'],
    [{ httpAgent: {} }, 'httpAgent'],
    [{ httpsAgent: new HttpAgent() }, 'httpsAgent'],
    [{ fallback: 'fetch' }, 'fallback'],
    [{ agent: 'x' }, 'agent'],
  ])('rejects %o with InvalidOptionsError naming %s', (options, name) => {
    const error = (() => {
      try {
        nodeHttpFetch(options as never);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
    expect((error as Error).message).toContain(name);
  });

  it('caps open sockets per host with maxSocketsPerHost; requests beyond it queue', async () => {
    const release = deferred<void>();
    const server = await serve((_req, res) => {
      void release.promise.then(() => res.end('{}'));
    });
    const fetch = made({ maxSocketsPerHost: 2 });
    const answers = Promise.all([1, 2, 3, 4].map(() => fetch(server.url, MANUAL).then((r) => r.text())));
    await expect.poll(() => server.requests.length).toBe(2);
    expect(server.connections.opened).toBe(2);
    release.resolve();
    await answers;
    expect(server.requests).toHaveLength(4);
    expect(server.connections.opened).toBe(2);
  });
});
