import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { trackedOnExitCount } from '../../src/stdio/exit-guard.js';
import { stdioSessionFactory } from '../../src/stdio/index.js';
import { fixtureCommand, fixtureRequest, isDead, recordingContext, useBundledFixture } from './helpers.js';

const PARENT = fileURLToPath(new URL('../fixtures/stdio-exit-parent.ts', import.meta.url));

let disposeFixture: () => void;
beforeAll(() => {
  disposeFixture = useBundledFixture();
});
afterAll(() => disposeFixture());

/** Process groups to SIGKILL after the test, for children that (by design of the test) outlived their parent. */
const strays: number[] = [];
afterEach(async () => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await vi.waitFor(() => expect(isDead(pid)).toBe(true), { timeout: 3_000, interval: 20 });
  }
});

/** Runs the exit-parent script to completion; resolves with the pid of the child it left behind. */
async function runParent(killOnExit: boolean): Promise<number> {
  const parent = spawn(
    process.execPath,
    ['--import', 'tsx', PARENT, String(killOnExit), JSON.stringify(fixtureCommand())],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  parent.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => parent.once('close', (exitCode) => resolve(exitCode)));
  expect(code).toBe(0);
  const pid = Number(output.trim());
  expect(pid).toBeGreaterThan(0);
  return pid;
}

describe('exit guard', () => {
  it('holds a process exit listener only while a child lives', async () => {
    const baseline = process.listenerCount('exit');
    const factory = stdioSessionFactory();
    const [a, b] = await Promise.all([
      factory(fixtureRequest('s1'), recordingContext()),
      factory(fixtureRequest('s2'), recordingContext()),
    ]);
    expect(process.listenerCount('exit')).toBe(baseline + 1);
    expect(trackedOnExitCount()).toBe(2);

    await a.close({ signal: new AbortController().signal });
    expect(process.listenerCount('exit')).toBe(baseline + 1);
    await b.close({ signal: new AbortController().signal });
    expect(process.listenerCount('exit')).toBe(baseline);
    expect(trackedOnExitCount()).toBe(0);
  });

  it('adds no listener with killOnExit: false', async () => {
    const baseline = process.listenerCount('exit');
    const connection = await stdioSessionFactory({ killOnExit: false })(fixtureRequest('s1'), recordingContext());
    expect(process.listenerCount('exit')).toBe(baseline);
    await connection.close({ signal: new AbortController().signal });
  });

  it('SIGKILLs a stubborn child when its parent process exits without closing it', { timeout: 15_000 }, async () => {
    const pid = await runParent(true);
    strays.push(pid);
    await vi.waitFor(() => expect(isDead(pid)).toBe(true), { timeout: 3_000, interval: 20 });
  });

  it('control: without killOnExit the same child outlives its parent', { timeout: 15_000 }, async () => {
    const pid = await runParent(false);
    strays.push(pid);
    expect(isDead(pid)).toBe(false);
  });
});
