/**
 * {@link ChildStdioTransport}: the SDK's stdio framing (newline-delimited
 * JSON-RPC) over a {@link StdioChild} this library spawned and owns.
 *
 * Unlike the SDK's `StdioClientTransport`, it neither spawns nor kills: the
 * factory owns the process and its bounded close, and `close()` here only ends
 * stdin. It reports a dead child (exit, or stdout closed) through `onclose`,
 * which makes the SDK reject every request in flight at once.
 *
 * @module
 */

import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, type JSONRPCMessage, McpError } from '@modelcontextprotocol/sdk/types.js';
import { markLocalTransportError } from '../classify.js';
import type { StdioChild, StdioExit } from './child.js';

/** How long, after stdout ended or the child exited, to wait for the other before declaring the connection lost. */
const SETTLE_MS = 100;

/** The error a lost child is reported with: an SDK `ConnectionClosed`, so `classifyError` calls it `'transport'`. */
function childLostError(exit: StdioExit | undefined, pid: number | undefined): McpError {
  const how =
    exit === undefined
      ? 'closed its stdout'
      : exit.signal !== null
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit.code ?? 'unknown'}`;
  return markLocalTransportError(
    new McpError(ErrorCode.ConnectionClosed, `stdio upstream (pid ${pid ?? 'unknown'}) ${how}`, {
      pid,
      exitCode: exit?.code ?? null,
      signal: exit?.signal ?? null,
    }),
  );
}

/** MCP transport over the stdin/stdout pipes of a {@link StdioChild}. */
export class ChildStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #child: StdioChild;
  readonly #onLost: (error: McpError) => void;
  readonly #readBuffer = new ReadBuffer();
  #started = false;
  #stdoutDone = false;
  #closed = false;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;

  /** `onLost` runs once when the child dies or closes stdout before `close()` was called. */
  constructor(child: StdioChild, onLost: (error: McpError) => void) {
    this.#child = child;
    this.#onLost = onLost;
  }

  /** Waits until the child runs and starts reading its stdout. Rejects with `StdioSpawnError`. */
  async start(): Promise<void> {
    if (this.#started) throw new Error('ChildStdioTransport already started');
    this.#started = true;
    await this.#child.spawned;
    const stdout = this.#child.stdout;
    if (stdout === null) throw new Error('stdio upstream has no stdout pipe');
    stdout.on('data', (chunk: Buffer) => this.#onData(chunk));
    const stdoutDone = (): void => {
      this.#stdoutDone = true;
      this.#onEndOrExit();
    };
    stdout.once('end', stdoutDone);
    stdout.once('close', stdoutDone);
    void this.#child.exited.then(() => this.#onEndOrExit());
  }

  /** Writes one message; resolves once it is handed to the pipe, rejects if the child is gone. */
  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child.stdin;
    if (this.#closed || stdin === null || stdin.destroyed || stdin.writableEnded) {
      return Promise.reject(markLocalTransportError(new McpError(ErrorCode.ConnectionClosed, 'Not connected')));
    }
    return new Promise((resolve, reject) => {
      stdin.write(serializeMessage(message), (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Ends the child's stdin (asking it to exit) and reports the close. Does not wait for the child. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearDrainTimer();
    this.#readBuffer.clear();
    this.#child.endStdin();
    this.onclose?.();
  }

  #onData(chunk: Buffer): void {
    // Keep reading after close so that a chatty child never blocks on a full pipe; just drop the data.
    if (this.#closed) return;
    try {
      this.#readBuffer.append(chunk);
    } catch (error) {
      // A message over the buffer limit: the stream can no longer be framed.
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      this.#lost();
      return;
    }
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.#readBuffer.readMessage();
      } catch (error) {
        // A non-JSON line (e.g. a stray console.log) is reported and skipped, as the SDK does.
        this.onerror?.(error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }

  /**
   * Stdout ended or the child exited. Usually both happen within a moment; the
   * other one is awaited briefly, so that a last response still in the pipe is
   * read and the error names the exit code or signal. But a grandchild holding
   * stdout open, or a child that closed stdout and hangs, must not delay the
   * failure of calls in flight.
   */
  #onEndOrExit(): void {
    if (this.#closed) return;
    if (this.#stdoutDone && this.#child.exit !== undefined) {
      this.#lost();
      return;
    }
    this.#drainTimer ??= setTimeout(() => this.#lost(), SETTLE_MS);
  }

  #lost(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearDrainTimer();
    this.#readBuffer.clear();
    const error = childLostError(this.#child.exit, this.#child.pid);
    // onclose first: the SDK rejects requests in flight before the registry hears of it.
    this.onclose?.();
    this.#onLost(error);
  }

  #clearDrainTimer(): void {
    if (this.#drainTimer === undefined) return;
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
  }
}
