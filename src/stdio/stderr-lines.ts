/**
 * Splits a child's stderr into lines for a {@link StdioStderrHandler}.
 *
 * @module
 */

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** Longest line handed over in one call; a child that never prints a newline must not grow memory without bound. */
export const MAX_STDERR_LINE = 8192;

/**
 * Calls `onLine` for every line of `stream` (without `\n` or `\r\n`), and for
 * the unterminated rest when the stream ends. Lines longer than
 * {@link MAX_STDERR_LINE} arrive in pieces. Exceptions thrown by `onLine` are
 * swallowed: a logging bug must not break the upstream connection.
 */
export function forwardLines(stream: Readable, onLine: (line: string) => void): void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (line: string): void => {
    try {
      onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    } catch {
      // Isolated on purpose, see above.
    }
  };
  const push = (text: string): void => {
    pending += text;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      emit(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    while (pending.length > MAX_STDERR_LINE) {
      emit(pending.slice(0, MAX_STDERR_LINE));
      pending = pending.slice(MAX_STDERR_LINE);
    }
  };
  stream.on('data', (chunk: Buffer) => push(decoder.write(chunk)));
  stream.on('end', () => {
    push(decoder.end());
    if (pending.length > 0) emit(pending);
    pending = '';
  });
}
