import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_STDERR_LINE, forwardLines } from '../../src/stdio/stderr-lines.js';

async function linesOf(chunks: Array<string | Buffer>, onLine?: (line: string) => void): Promise<string[]> {
  const stream = new PassThrough();
  const lines: string[] = [];
  forwardLines(stream, (line) => {
    lines.push(line);
    onLine?.(line);
  });
  const ended = new Promise((resolve) => stream.once('end', resolve));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await ended;
  return lines;
}

describe('forwardLines', () => {
  it('splits on LF and CRLF across chunk boundaries, and flushes the unterminated rest', async () => {
    expect(await linesOf(['one\r\ntw', 'o\nthr', 'ee'])).toEqual(['one', 'two', 'three']);
  });

  it('keeps a multi-byte character split across chunks intact', async () => {
    const bytes = Buffer.from('grüße\n', 'utf8');
    expect(await linesOf([bytes.subarray(0, 3), bytes.subarray(3)])).toEqual(['grüße']);
  });

  it('cuts a line that never ends into bounded pieces', async () => {
    const lines = await linesOf(['x'.repeat(MAX_STDERR_LINE * 2 + 5)]);
    expect(lines.map((line) => line.length)).toEqual([MAX_STDERR_LINE, MAX_STDERR_LINE, 5]);
  });

  it('isolates a throwing handler: later lines still arrive', async () => {
    const lines = await linesOf(['a\nb\n'], (line) => {
      if (line === 'a') throw new Error('logger bug');
    });
    expect(lines).toEqual(['a', 'b']);
  });
});
