/**
 * When an upstream's event stream answer may be handed to the SDK as JSON:
 * exactly one `message` event whose data is a JSON object, nothing to resume
 * (no id, no retry), and a finished stream. Everything else stays an event stream.
 */
import { describe, expect, it } from 'vitest';
import { jsonOfEventStream } from '../../src/node/event-stream-answer.js';

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
