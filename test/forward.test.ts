import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../src/errors.js';
import { forwardToOwner } from '../src/forward.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** A node:http server on 127.0.0.1 playing the owner worker; records what it received. */
async function owner(handler: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void) {
  const requests: Seen[] = [];
  const server = createServer((req, res) => {
    const seen: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' };
    requests.push(seen);
    handler(req, res, seen);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { address: `http://127.0.0.1:${port}`, requests, server };
}

function readBody(req: IncomingMessage, seen: Seen): Promise<void> {
  return new Promise((resolve) => {
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      seen.body += chunk;
    });
    req.on('end', resolve);
  });
}

async function freeAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('forwardToOwner', () => {
  it('re-targets method, path, query and body to the owner and relays its answer', async () => {
    const o = await owner((req, res, seen) => {
      void readBody(req, seen).then(() => {
        res.setHeader('x-answer', 'yes');
        res.setHeader('x-hop-only', 'drop me');
        res.setHeader('connection', 'x-hop-only');
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    const request = new Request('http://front.example/mcp?x=1&y=2', {
      method: 'POST',
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      headers: {
        'content-type': 'application/json',
        'mcp-session-id': 'ds-1',
        'x-custom': 'kept',
        'x-listed': 'dropped',
        connection: 'x-listed',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic secret',
        te: 'trailers',
        host: 'front.example',
      },
    });
    const response = await forwardToOwner(request, { workerId: 'w2', address: `${o.address}/base/` });
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('{"ok":true}');
    expect(response.headers.get('x-answer')).toBe('yes');
    expect(response.headers.has('x-hop-only')).toBe(false);
    expect(response.headers.has('connection')).toBe(false);
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);

    expect(o.requests).toHaveLength(1);
    const seen = o.requests[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/base/mcp?x=1&y=2');
    expect(seen.body).toBe('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    expect(seen.headers['mcp-session-id']).toBe('ds-1'); // the owner is a peer worker and needs it
    expect(seen.headers['x-custom']).toBe('kept');
    expect(seen.headers['x-mcp-forwarded-hops']).toBe('1');
    expect(seen.headers['accept-encoding']).toBe('identity');
    expect(seen.headers.host).toBe(new URL(o.address).host);
    for (const name of ['x-listed', 'keep-alive', 'proxy-authorization', 'te']) expect(seen.headers[name]).toBeUndefined();
  });

  it('streams an SSE response chunk by chunk, without waiting for its end', async () => {
    let sendSecond!: () => void;
    const second = new Promise<void>((resolve) => {
      sendSecond = resolve;
    });
    const o = await owner((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: message\ndata: one\n\n');
      void second.then(() => res.end('event: message\ndata: two\n\n'));
    });
    const response = await forwardToOwner(new Request('http://front/mcp'), { workerId: 'w2', address: o.address });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    // The second event is only written after the first one arrived here: buffering would deadlock.
    const first = await reader.read();
    expect(first.value).toContain('data: one');
    expect(first.value).not.toContain('data: two');
    sendSecond();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += chunk.value;
    expect(rest).toContain('data: two');
  });

  it('streams the request body up without buffering it first', async () => {
    let gotFirst!: () => void;
    const firstArrived = new Promise<void>((resolve) => {
      gotFirst = resolve;
    });
    const o = await owner((req, res, seen) => {
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        seen.body += chunk;
        if (seen.body.includes('part-1')) gotFirst();
      });
      req.on('end', () => res.end(seen.body));
    });
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = controller;
      },
    });
    const request = new Request('http://front/mcp', { method: 'POST', body, duplex: 'half' } as RequestInit);
    const forwarded = forwardToOwner(request, { workerId: 'w2', address: o.address });
    push.enqueue(new TextEncoder().encode('part-1;'));
    await firstArrived; // the owner saw part 1 while part 2 did not exist yet
    push.enqueue(new TextEncoder().encode('part-2'));
    push.close();
    const response = await forwarded;
    expect(await response.text()).toBe('part-1;part-2');
  });

  it('refuses with 508 once the hop count reached maxHops, without contacting the owner', async () => {
    const o = await owner((_req, res) => res.end('reached'));
    const target = { workerId: 'w2', address: o.address };
    const once = new Request('http://front/mcp', { headers: { 'x-mcp-forwarded-hops': '1' } });
    const refused = await forwardToOwner(once, target);
    expect(refused.status).toBe(508);
    expect((await refused.json()) as unknown).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    const garbage = await forwardToOwner(new Request('http://front/mcp', { headers: { 'x-mcp-forwarded-hops': 'x' } }), target);
    expect(garbage.status).toBe(508);
    const custom = new Request('http://front/mcp', { headers: { 'x-hops': '2' } });
    expect((await forwardToOwner(custom, target, { hopHeader: 'X-Hops', maxHops: 2 })).status).toBe(508);
    expect(o.requests).toHaveLength(0);

    const allowed = await forwardToOwner(once, target, { maxHops: 2 });
    expect(await allowed.text()).toBe('reached');
    expect(o.requests[0]!.headers['x-mcp-forwarded-hops']).toBe('2');
  });

  it('answers 502 for a dead owner or one without a usable address, never naming it', async () => {
    const dead = await freeAddress();
    const response = await forwardToOwner(new Request('http://front/mcp'), { workerId: 'w2', address: dead });
    expect(response.status).toBe(502);
    const text = await response.text();
    expect(text).not.toContain('127.0.0.1');
    expect((await forwardToOwner(new Request('http://front/mcp'), { workerId: 'w2' })).status).toBe(502);
    const credentials = { workerId: 'w2', address: 'http://u:p@127.0.0.1:1' };
    expect((await forwardToOwner(new Request('http://front/mcp'), credentials)).status).toBe(502);
  });

  it('answers 504 when the owner accepts but sends no headers within timeoutMs', async () => {
    const o = await owner(() => {
      // never answers
    });
    const started = Date.now();
    const response = await forwardToOwner(new Request('http://front/mcp'), { workerId: 'w2', address: o.address }, {
      timeoutMs: 150,
    });
    expect(response.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('the caller signal rejects a pending forward and cancels a response stream in progress', async () => {
    const o = await owner(() => {
      // never answers
    });
    const before = new AbortController();
    const pending = forwardToOwner(new Request('http://front/mcp'), { workerId: 'w2', address: o.address }, {
      signal: before.signal,
    });
    before.abort(new Error('client went away'));
    await expect(pending).rejects.toThrow('client went away');

    let ownerSawClose!: () => void;
    const closed = new Promise<void>((resolve) => {
      ownerSawClose = resolve;
    });
    const streaming = await owner((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      res.on('close', ownerSawClose);
    });
    const during = new AbortController();
    const response = await forwardToOwner(new Request('http://front/mcp'), { workerId: 'w2', address: streaming.address }, {
      signal: during.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    during.abort(new Error('client went away'));
    await closed; // the owner's stream was torn down
    await reader.read().catch(() => undefined);
  });

  it('rejects bad options with InvalidOptionsError', async () => {
    const request = new Request('http://front/mcp');
    const target = { workerId: 'w2', address: 'http://127.0.0.1:1' };
    await expect(forwardToOwner(request, target, { maxHops: 0 })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(forwardToOwner(request, target, { timeoutMs: -1 })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(forwardToOwner(request, target, { hopHeader: 'bad header' })).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
    await expect(forwardToOwner(request, target, { extra: true } as never)).rejects.toBeInstanceOf(InvalidOptionsError);
  });
});
