/**
 * `npm run demo` as a user runs it: a child process, checked by exit code and
 * by what it tells the reader.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run demo', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  it('exits 0 after showing 5 and 3, the snapshot and the closed upstream session', async () => {
    // What `npm run demo` runs (tsx examples/demo.ts), without npm's own startup.
    child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child?.on('close', resolve));
    expect(output).toContain('✓ A reads 5 (expected 5)');
    expect(output).toContain('✓ B reads 3 (expected 3)');
    expect(output).toMatch(/downstream session A → gateway "counter"/);
    expect(output).toContain("✓ the upstream received the DELETE for A's session");
    expect(output).toContain('Done: every check passed.');
    expect(output).not.toContain('✗');
    expect(code).toBe(0);
  }, 60_000);
});
