/**
 * {@link StdioChild}: one spawned MCP server process, with the signalling and
 * exit-waiting primitives the bounded close is built from.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process';
import process from 'node:process';
import type { Readable, Writable } from 'node:stream';
import { trackOnExit, untrackOnExit } from './exit-guard.js';
import { StdioSpawnError, spawnErrorCode } from './spawn-error.js';

/** How a child ended: exit code, or the signal that killed it. */
export interface StdioExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What to spawn and how. */
export interface ChildSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** The complete environment of the child (nothing else is inherited). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string | undefined;
  readonly stderr: 'inherit' | 'ignore' | 'pipe';
  /** Own process group, signalled as a whole. */
  readonly processGroup: boolean;
  /** SIGKILL the child if this process exits first. */
  readonly killOnExit: boolean;
}

const NEVER_SPAWNED: StdioExit = Object.freeze({ code: null, signal: null });

/**
 * A spawned child process. `exited` resolves once Node has reaped it (so it is
 * no zombie), or at once if it never started.
 */
export class StdioChild {
  /** Resolves when the process is running; rejects with {@link StdioSpawnError}. */
  readonly spawned: Promise<void>;
  /** Resolves when the process has exited and been reaped, or failed to start. */
  readonly exited: Promise<StdioExit>;
  readonly #process: ChildProcess | undefined;
  readonly #group: boolean;
  #exit: StdioExit | undefined;

  private constructor(spec: ChildSpec, child: ChildProcess | undefined, syncError?: unknown) {
    this.#process = child;
    this.#group = spec.processGroup;
    let resolveExit!: (exit: StdioExit) => void;
    this.exited = new Promise((resolve) => {
      resolveExit = resolve;
    });
    const finish = (exit: StdioExit): void => {
      if (this.#exit !== undefined) return;
      this.#exit = exit;
      untrackOnExit(this);
      resolveExit(exit);
    };
    if (child === undefined) {
      finish(NEVER_SPAWNED);
      this.spawned = Promise.reject(new StdioSpawnError(spec.command, spawnErrorCode(syncError)));
    } else {
      // Without listeners, an EPIPE on stdin (child gone) would crash this process.
      child.stdin?.on('error', () => {});
      child.stdout?.on('error', () => {});
      child.stderr?.on('error', () => {});
      child.once('exit', (code, signal) => finish({ code, signal }));
      this.spawned = new Promise((resolve, reject) => {
        child.once('spawn', resolve);
        child.on('error', (error) => {
          // After a successful spawn, 'error' only reports a failed kill or send: nothing to do.
          if (child.pid !== undefined) return;
          finish(NEVER_SPAWNED);
          reject(new StdioSpawnError(spec.command, spawnErrorCode(error)));
        });
      });
      if (spec.killOnExit && child.pid !== undefined) trackOnExit(this);
    }
    // Callers that never await `spawned` (e.g. abort before start) must not cause an unhandled rejection.
    this.spawned.catch(() => {});
  }

  /**
   * Spawns `spec`. Never throws: a failure to start shows up as a rejected
   * {@link StdioChild.spawned} (and a resolved {@link StdioChild.exited}).
   */
  static spawn(spec: ChildSpec): StdioChild {
    try {
      const child = spawn(spec.command, [...spec.args], {
        env: { ...spec.env },
        cwd: spec.cwd,
        stdio: ['pipe', 'pipe', spec.stderr],
        // `detached` makes the child a process-group (and session) leader, so `kill(-pid)` reaches its descendants.
        detached: spec.processGroup,
        shell: false,
        windowsHide: true,
      });
      return new StdioChild(spec, child);
    } catch (error) {
      // Synchronous spawn failures (e.g. EINVAL) become the same rejected `spawned` as asynchronous ones.
      return new StdioChild(spec, undefined, error);
    }
  }

  /** Pid of the child, `undefined` if it never started. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** The child's stdin pipe (`null` if it never started). */
  get stdin(): Writable | null {
    return this.#process?.stdin ?? null;
  }

  /** The child's stdout pipe (`null` if it never started). */
  get stdout(): Readable | null {
    return this.#process?.stdout ?? null;
  }

  /** The child's stderr pipe (`null` unless stderr is `'pipe'`, or if it never started). */
  get stderr(): Readable | null {
    return this.#process?.stderr ?? null;
  }

  /** How the child ended, `undefined` while it runs. */
  get exit(): StdioExit | undefined {
    return this.#exit;
  }

  /** Closes the child's stdin: the MCP stdio way of asking a server to exit. */
  endStdin(): void {
    const stdin = this.stdin;
    if (stdin !== null && !stdin.destroyed) stdin.end();
  }

  /**
   * Sends `signal` to the child, or to its whole process group. Once the child
   * has exited, only the group is signalled: that reaches descendants it left behind.
   */
  kill(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) return;
    if (this.#group) {
      try {
        process.kill(-pid, signal);
      } catch {
        // ESRCH: the group is empty.
      }
      return;
    }
    if (this.#exit === undefined) this.#process?.kill(signal);
  }

  /** Synchronous SIGKILL for the exit guard. */
  killNow(): void {
    this.kill('SIGKILL');
  }

  /**
   * Resolves `true` once the child has exited, or `false` after `ms` or when
   * `signal` aborts, whichever comes first. Leaves no timer behind.
   */
  waitForExit(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#exit !== undefined) return Promise.resolve(true);
    if (signal?.aborted === true) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (exited: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(exited);
      };
      const onAbort = (): void => done(false);
      const timer = setTimeout(done, ms, false);
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.exited.then(() => done(true));
    });
  }
}
