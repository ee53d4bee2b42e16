/**
 * When an upstream's event stream answer may be handed to the SDK as JSON:
 * exactly one `message` event whose data is a JSON object, nothing to resume
 * (no id, no retry), and a finished stream. Everything else stays an event stream.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { eventStreamAnswer, jsonOfEventStream } from '../../src/node/event-stream-answer.js';

const RESULT = '{"jsonrpc":"2.0","id":1,"result":{"content":[]}}';

describe('jsonOfEventStream', () => {
  it.each([
    ['one data event', `data: ${RESULT}\n\n`],
    ['named message, CRLF line ends', `event: message\r\ndata: ${RESULT}\r\n\r\n`],
    ['a comment line and no space after the colon', `: keep-alive\ndata:${RESULT}\n\n`],
    ['data over two lines (joined with a newline)', 'data: {"jsonrpc":"2.0",\ndata: "id":1,"result":{}}\n\n'],
  ])('turns %s into its JSON', (_, text) => {
    const json = jsonOfEventStream(text);
    expect(json).toBeDefined();
    expect(JSON.parse(json as string)).toMatchObject({ jsonrpc: '2.0', id: 1 });
  });

  it.each([
    ['an event id (the client keeps it for resuming)', `id: 7\ndata: ${RESULT}\n\n`],
    ['a retry field', `retry: 1000\ndata: ${RESULT}\n\n`],
    ['a priming event then the result', `id: 1\ndata: \n\nid: 2\ndata: ${RESULT}\n\n`],
    ['two messages (progress, then the result)', `data: {"jsonrpc":"2.0","method":"notifications/progress"}\n\ndata: ${RESULT}\n\n`],
    ['another event type', `event: ping\ndata: ${RESULT}\n\n`],
    ['data that is not JSON', 'data: hello\n\n'],
    ['data that is a JSON array (a batch)', `data: [${RESULT}]\n\n`],
    ['an unfinished last event', `data: ${RESULT}\n`],
    ['no event at all', ': only a comment\n\n'],
    ['an empty stream', ''],
    ['an event without data', 'event: message\n\n'],
  ])('keeps the event stream for %s', (_, text) => {
    expect(jsonOfEventStream(text)).toBeUndefined();
  });
});

describe('eventStreamAnswer', () => {
  it('reads a large single event in time linear in its size', async () => {
    // 24 MB in 16 KiB chunks: rescanning (or copying) what was read per chunk took over 10 s here, one pass well under 1 s.
    const body = new PassThrough();
    const answer = eventStreamAnswer(body, { status: 200, headers: new Headers({ 'content-type': 'text/event-stream' }) });
    const chunk = Buffer.alloc(16 * 1024, 'a');
    const started = performance.now();
    body.write('data: "');
    for (let i = 0; i < 24 * 64; i++) body.write(chunk);
    body.end('"\n\n');
    const response = await answer;
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect((await response.arrayBuffer()).byteLength).toBe(24 * 1024 * 1024 + 10);
  });
});
