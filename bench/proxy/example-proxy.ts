/**
 * Starts one of the example proxies (`examples/express`, `examples/hono`) the
 * way a user does (`tsx examples/<name>/server.ts` with `MCP_GATEWAYS`), in a
 * child process of its own, so that its CPU is not the load generator's.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The example proxies. */
export type ExampleName = 'express' | 'hono';

/** A running example proxy process. */
export interface ExampleProxy {
  readonly name: ExampleName;
  /** Its MCP endpoint. */
  readonly url: string;
  readonly pid: number;
  /** SIGTERM (the example closes its sessions and exits); resolves when the process exited. */
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STARTUP_TIMEOUT_MS = 60_000;

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts `examples/<name>/server.ts` on 127.0.0.1 (a free port) with one gateway
 * `counter` at `upstreamUrl`. `nodeArgs` go before the script (e.g. `--cpu-prof`).
 */
export async function startExampleProxy(
  name: ExampleName,
  upstreamUrl: string,
  nodeArgs: readonly string[] = [],
): Promise<ExampleProxy> {
  const extra = process.env.BENCH_PROXY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...extra, ...nodeArgs, '--import', 'tsx', `examples/${name}/server.ts`], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', MCP_GATEWAYS: JSON.stringify([{ id: 'counter', url: upstreamUrl }]) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = exitOf(child);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name} proxy did not start in ${STARTUP_TIMEOUT_MS} ms: ${output}`)), STARTUP_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /listening on (http:\/\/\S+\/mcp)/.exec(output);
      if (match?.[1] === undefined) return;
      cleanup();
      resolve(match[1]);
    };
    const onExit = (code: number | null): void => fail(new Error(`${name} proxy exited during startup (code ${code}): ${output}`));
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    const fail = (error: Error): void => {
      cleanup();
      child.kill('SIGKILL');
      reject(error);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
  // Keep draining stdout (shutdown messages) so the child never blocks on a full pipe.
  child.stdout?.resume();
  return {
    name,
    url,
    pid: child.pid as number,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
