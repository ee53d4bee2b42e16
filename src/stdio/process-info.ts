/**
 * {@link stdioProcessOf}: the child process behind a client made by `stdioSessionFactory`.
 *
 * @module
 */

import type { Readable } from 'node:stream';
import type { StdioExit } from './child.js';

/** The child process behind one stdio upstream connection. */
export interface StdioProcessInfo {
  /** Pid of the child (the process-group id too, with `processGroup: true`). */
  readonly pid: number;
  /** The child's stderr, only with `stderr: 'pipe'` (then you must consume it); otherwise `null`. */
  readonly stderr: Readable | null;
  /** Resolves with the exit code or signal once the child has exited and been reaped. */
  readonly exited: Promise<StdioExit>;
}

const byClient = new WeakMap<object, StdioProcessInfo>();

/**
 * The child process behind `client`, if `client` came from `stdioSessionFactory`.
 * Use it for metrics or to read a piped stderr; never signal the pid yourself
 * while the registry holds the connection (retire it with `evictSession` instead).
 *
 * @example
 * ```ts
 * await registry.use(request, async (client) => {
 *   const child = stdioProcessOf(client);
 *   logger.debug({ pid: child?.pid }, 'calling stdio upstream');
 *   return client.callTool({ name: 'search', arguments: { q } });
 * });
 * ```
 */
export function stdioProcessOf(client: object): StdioProcessInfo | undefined {
  return byClient.get(client);
}

/** Records the child behind `client`; internal to the factory. */
export function setStdioProcess(client: object, info: StdioProcessInfo): void {
  byClient.set(client, Object.freeze(info));
}
