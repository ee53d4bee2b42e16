/**
 * Shared helpers of the stdio tests: requests for the counter fixture, process
 * inspection through /proc (Linux), and a factory context that records breaks.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { SessionCreateRequest } from '../../src/request.js';

/** Absolute path of the stdio counter server. */
export const FIXTURE = fileURLToPath(new URL('../fixtures/stdio-counter-server.ts', import.meta.url));

/** How to launch the fixture: through tsx by default, or a prebuilt bundle (see {@link useBundledFixture}). */
let fixtureArgs: string[] = ['--import', 'tsx', FIXTURE];

/**
 * Bundles the fixture (SDK included) into one plain JS file and launches that
 * instead of `--import tsx`: a child then starts with about a quarter of the
 * CPU, which keeps test files that spawn twenty children fast on a busy
 * machine. Same source, so same behaviour. Call in `beforeAll`; call the
 * returned function in `afterAll`.
 */
export function useBundledFixture(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'stdio-fixture-'));
  const outfile = join(dir, 'stdio-counter-server.mjs');
  // buildSync runs esbuild to completion in a synchronous child: no service process outlives it.
  buildSync({ entryPoints: [FIXTURE], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'error' });
  fixtureArgs = [outfile];
  return () => {
    fixtureArgs = ['--import', 'tsx', FIXTURE];
    rmSync(dir, { recursive: true, force: true });
  };
}

/** Command and arguments that start the fixture. */
export function fixtureCommand(): { command: string; args: string[] } {
  return { command: process.execPath, args: [...fixtureArgs] };
}

/** Fixture modes, see test/fixtures/stdio-counter-server.ts. */
export type FixtureMode = 'IGNORE_SIGTERM' | 'IGNORE_STDIN_CLOSE' | 'NO_INIT';

export function fixtureRequest(
  downstreamSessionId: string,
  options: { modes?: FixtureMode[]; env?: Record<string, string>; connectTimeoutMs?: number; gatewayId?: string } = {},
): SessionCreateRequest {
  const env: Record<string, string> = { ...options.env };
  for (const mode of options.modes ?? []) env[`STDIO_FIXTURE_${mode}`] = '1';
  return SessionCreateRequest.from({
    downstreamSessionId,
    gatewayId: options.gatewayId ?? 'counter',
    transport: 'stdio',
    stdio: { ...fixtureCommand(), env },
    connectTimeoutMs: options.connectTimeoutMs,
  });
}

export { callText, recordingContext } from '../fixtures/factory-harness.js';

/** Process state letter from /proc (R, S, Z, ...), or undefined when the pid is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may contain spaces; the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is gone for good. A zombie counts as gone only when it is not
 * ours: after a non-child dies it waits for init to reap it, which a container's
 * pid 1 may never do.
 */
export function isDead(pid: number): boolean {
  const state = processState(pid);
  return state === undefined || (state === 'Z' && parentOf(pid) !== process.pid);
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Pids of this process's children, zombies included. */
export function childPids(): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (parentOf(Number(entry)) === process.pid) children.push(Number(entry));
  }
  return children;
}

/** `process.kill(pid, 0)` fails with ESRCH: the pid no longer exists, not even as a zombie. */
export function expectNoSuchProcess(pid: number): void {
  let code: unknown;
  try {
    process.kill(pid, 0);
  } catch (error) {
    code = (error as NodeJS.ErrnoException).code;
  }
  if (code !== 'ESRCH') throw new Error(`pid ${pid} still exists (state ${processState(pid) ?? '?'})`);
}
