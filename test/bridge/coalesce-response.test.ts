/**
 * coalesceResponse: an SSE answer to a POST whose priming event and response
 * come together goes out as one body of known length; events with data are
 * never held; the priming event waits at most primingHoldMs (fake clock);
 * anything else passes untouched.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { coalesceResponse } from '../../src/bridge/index.js';
import { InvalidOptionsError } from '../../src/errors.js';

const PRIMING = 'id: 1\nretry: 1000\ndata: \n\n';
const RESULT = 'id: 2\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n';
const PROGRESS = 'id: 2\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n';
const encoder = new TextEncoder();

/** An SSE answer whose stream the test writes to. */
function eventStream(headers: Record<string, string> = {}) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled: unknown = 'not cancelled';
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const response = new Response(body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream', 'mcp-session-id': 'down-1', ...headers },
  });
  return {
    response,
    write: (text: string) => controller.enqueue(encoder.encode(text)),
    end: () => controller.close(),
    fail: (error: Error) => controller.error(error),
    cancelled: () => cancelled,
  };
}

async function readAll(response: Response): Promise<string> {
  return new TextDecoder().decode(await response.arrayBuffer());
}

/** Settles `promise` against a marker, to tell whether it is already resolved. */
async function settledNow<T>(promise: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('coalesceResponse', () => {
  it('merges the priming event, the response and the end into one body of known length, headers kept', async () => {
    const source = eventStream();
    source.write(PRIMING);
    const coalesced = coalesceResponse(source.response);
    expect(await settledNow(coalesced)).toBe('pending');
    // What the SDK transport does when the response comes: the event, then the end, in one turn.
    source.write(RESULT);
    source.end();
    const response = await coalesced;
    expect(response.status).toBe(200);
    expect(response.headers.get('mcp-session-id')).toBe('down-1');
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('content-length')).toBe(String(encoder.encode(PRIMING + RESULT).byteLength));
    expect(await readAll(response)).toBe(PRIMING + RESULT);
  });

  it('never holds an event with data: a progress notification goes out at once, the rest streams', async () => {
    const source = eventStream();
    source.write(PRIMING);
    const coalesced = coalesceResponse(source.response);
    source.write(PROGRESS);
    const response = await coalesced;
    expect(response.headers.get('content-length')).toBeNull();
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toBe(PRIMING);
    expect(decoder.decode((await reader.read()).value)).toBe(PROGRESS);
    source.write(RESULT);
    source.end();
    expect(decoder.decode((await reader.read()).value)).toBe(RESULT);
    expect((await reader.read()).done).toBe(true);
  });

  it('lets the headers and the priming event go after primingHoldMs when nothing follows', async () => {
    vi.useFakeTimers();
    const source = eventStream();
    source.write(PRIMING);
    const coalesced = coalesceResponse(source.response, { primingHoldMs: 250 });
    await vi.advanceTimersByTimeAsync(249);
    let settled = false;
    void coalesced.then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const response = await coalesced;
    expect(vi.getTimerCount()).toBe(0);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(PRIMING);
    source.write(RESULT);
    source.end();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(RESULT);
  });

  it('cancelling the answer it returned cancels the source stream', async () => {
    const source = eventStream();
    source.write(PROGRESS);
    const response = await coalesceResponse(source.response);
    await response.body?.cancel('client gone');
    expect(source.cancelled()).toBe('client gone');
  });

  it('rejects when the source fails before anything went out, and leaves no timer', async () => {
    vi.useFakeTimers();
    const source = eventStream();
    source.write(PRIMING);
    const coalesced = coalesceResponse(source.response);
    source.fail(new Error('transport closed'));
    await expect(coalesced).rejects.toThrow('transport closed');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('returns anything but an event stream as it is, and everything with primingHoldMs 0', async () => {
    const json = new Response('{}', { headers: { 'content-type': 'application/json' } });
    const accepted = new Response(null, { status: 202 });
    const source = eventStream();
    expect(await coalesceResponse(json)).toBe(json);
    expect(await coalesceResponse(accepted)).toBe(accepted);
    expect(await coalesceResponse(source.response, { primingHoldMs: 0 })).toBe(source.response);
  });

  it.each([[{ primingHoldMs: -1 }], [{ primingHoldMs: '5' }], [{ primingHoldMs: 2 ** 31 }], [{ holdMs: 5 }], ['fast']])(
    'rejects the options %o with InvalidOptionsError',
    async (options) => {
      const source = eventStream();
      await expect(coalesceResponse(source.response, options as never)).rejects.toBeInstanceOf(InvalidOptionsError);
    },
  );
});
