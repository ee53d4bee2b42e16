/**
 * Starts one example proxy as a worker process (`node --import tsx
 * examples/express/server.ts`, multi-worker mode through the environment) and
 * waits until it listens. Used by the launcher and by the cluster tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Where the worker entry points live. */
const SERVERS = {
  express: fileURLToPath(new URL('../express/server.ts', import.meta.url)),
  hono: fileURLToPath(new URL('../hono/server.ts', import.meta.url)),
} as const;

/** Options of {@link startWorker}. */
export interface WorkerProcessOptions {
  readonly workerId: string;
  readonly redisUrl: string;
  /** The gateways every worker serves (`MCP_GATEWAYS`). */
  readonly gateways: readonly { readonly id: string; readonly url: string }[];
  readonly framework?: keyof typeof SERVERS;
  /** Default 0: any free port; the worker publishes the one it got. */
  readonly port?: number;
  /** More environment, e.g. `HEARTBEAT_INTERVAL_MS`, `OWNERSHIP_TTL_MS`. */
  readonly env?: Readonly<Record<string, string>>;
}

/** A running worker process. */
export interface WorkerProcess {
  readonly workerId: string;
  /** Its MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`. */
  readonly url: string;
  /** Its base URL (what the front and the other workers use). */
  readonly origin: string;
  readonly child: ChildProcess;
  /** Its log so far: one parsed JSON object per stderr line (see `jsonLinesLogger`). */
  readonly logs: readonly Record<string, unknown>[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** SIGTERM (graceful: hands its sessions over to the other workers), SIGKILL after `graceMs`. Resolves on exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns a worker and resolves once it listens; rejects with its output if it exits first. */
export function startWorker(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVERS[options.framework ?? 'express']], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(options.port ?? 0),
      REDIS_URL: options.redisUrl,
      WORKER_ID: options.workerId,
      MCP_GATEWAYS: JSON.stringify(options.gateways),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let buffered = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      output += `${line}\n`;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line (e.g. a Node warning)
      }
    }
  });
  return new Promise<WorkerProcess>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const url = /listening on (http:\/\/\S+\/mcp)/.exec(output)?.[1];
      if (url === undefined) return;
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      const stop = (graceMs = 5_000): Promise<void> => {
        if (child.exitCode !== null || child.signalCode !== null) return exited;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        return exited.finally(() => clearTimeout(timer));
      };
      resolve({ workerId: options.workerId, url, origin: new URL(url).origin, child, logs, exited, stop });
    });
    void exited.then(() => reject(new Error(`worker ${options.workerId} exited before listening:\n${output.slice(-2000)}`)));
  });
}
