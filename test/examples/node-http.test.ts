/**
 * writeWebResponse against a real node:http server on 127.0.0.1: a client that
 * went away before the answer was written must not leave the writer (and the
 * body it reads) waiting forever.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred } from '../../src/internal/deferred.js';
import { writeWebResponse } from '../../examples/shared/node-http.js';

const servers: Array<{ server: Server; sockets: Set<Socket> }> = [];

afterEach(async () => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A server whose handler hands the test each request's `res`. */
async function serve(onRequest: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer(onRequest);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  servers.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

/** An open event stream (as an SSE answer while a tool runs) that records its cancel. */
function openEventStream() {
  const cancelled = deferred<unknown>();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel(reason) {
      cancelled.resolve(reason);
    },
  });
  const response = new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  return { response, write: (text: string) => controller.enqueue(new TextEncoder().encode(text)), cancelled: cancelled.promise };
}

describe('writeWebResponse', () => {
  it('cancels the body and settles when the client went away before it was called (e.g. during a coalesce hold)', async () => {
    const reached = deferred<void>();
    const gone = deferred<ServerResponse>();
    const url = await serve((_req, res) => {
      res.once('close', () => gone.resolve(res));
      reached.resolve();
    });
    const client = request(url);
    client.on('error', () => undefined);
    client.end();
    // The request reached the handler: now the client leaves, and the response closes unanswered.
    await reached.promise;
    client.destroy();
    const res = await gone.promise;
    const source = openEventStream();
    // An event is there to write (the held priming event, a progress notification): nobody can take it.
    source.write('event: message\ndata: {}\n\n');
    await writeWebResponse(res, source.response);
    await source.cancelled;
    expect(res.destroyed).toBe(true);
  });
});
