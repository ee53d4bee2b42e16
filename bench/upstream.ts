/**
 * Starts and controls the bench upstream (`upstream-server.ts`) in a child process.
 *
 * @module
 */

import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { UpstreamStats } from './upstream-server.js';

export type { UpstreamStats } from './upstream-server.js';

/** A running upstream child. */
export interface Upstream {
  /** Streamable HTTP endpoint. */
  readonly url: string;
  /** Delay added before every HTTP exchange is handled, like a remote upstream. */
  setLatency(ms: number): Promise<void>;
  stats(): Promise<UpstreamStats>;
  resetStats(): Promise<void>;
  /** Resolves when the next call of tool `name` starts on the server. */
  nextToolStart(name: string): Promise<void>;
  /** SIGKILL: the process dies at once; the kernel closes its sockets. Resolves when it exited. */
  kill(): Promise<void>;
  /** Stops the child (idempotent). */
  close(): Promise<void>;
}

interface Reply {
  readonly id?: number;
  readonly type: string;
  readonly port?: number;
  readonly name?: string;
  readonly stats?: UpstreamStats;
}

const SERVER_PATH = fileURLToPath(new URL('./upstream-server.ts', import.meta.url));

class UpstreamChild implements Upstream {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #pending = new Map<number, (reply: Reply) => void>();
  readonly #toolWaiters = new Map<string, Array<() => void>>();
  #nextId = 1;

  constructor(child: ChildProcess, port: number, exited: Promise<void>) {
    this.#child = child;
    this.#exited = exited;
    this.url = `http://127.0.0.1:${port}/mcp`;
    child.on('message', (reply: Reply) => this.#onMessage(reply));
  }

  #onMessage(reply: Reply): void {
    if (reply.type === 'tool-started' && reply.name !== undefined) {
      const waiters = this.#toolWaiters.get(reply.name) ?? [];
      this.#toolWaiters.delete(reply.name);
      for (const wake of waiters) wake();
      return;
    }
    if (reply.id === undefined) return;
    const resolve = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    resolve?.(reply);
  }

  #request(command: Record<string, unknown>): Promise<Reply> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, resolve);
      this.#child.send({ ...command, id }, (error) => {
        if (error === null) return;
        this.#pending.delete(id);
        reject(error);
      });
    });
  }

  async setLatency(ms: number): Promise<void> {
    await this.#request({ type: 'config', latencyMs: ms });
  }

  async stats(): Promise<UpstreamStats> {
    const reply = await this.#request({ type: 'stats' });
    if (reply.stats === undefined) throw new Error('upstream sent no stats');
    return reply.stats;
  }

  async resetStats(): Promise<void> {
    await this.#request({ type: 'reset-stats' });
  }

  nextToolStart(name: string): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.#toolWaiters.get(name) ?? [];
      waiters.push(resolve);
      this.#toolWaiters.set(name, waiters);
    });
  }

  async kill(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    await this.#exited;
  }

  async close(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect();
    await this.kill();
  }
}

/** Forks the upstream and resolves once it listens on 127.0.0.1. */
export async function startUpstream(): Promise<Upstream> {
  const child = fork(SERVER_PATH, [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const onMessage = (reply: Reply): void => {
      if (reply.type !== 'ready' || reply.port === undefined) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(reply.port);
    };
    const onExit = (code: number | null): void => reject(new Error(`bench upstream exited during startup (code ${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  return new UpstreamChild(child, port, exited);
}
