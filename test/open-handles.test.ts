/**
 * Proves the suite's open-handle guard (test/setup.ts): vitest runs small fixture
 * files under that setup in a child process; each fixture that leaks exactly one
 * resource must fail naming it, and the clean one must pass.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

interface FileResult {
  status: string;
  message: string;
}

async function runFixtures(): Promise<Map<string, FileResult>> {
  const dir = await mkdtemp(join(tmpdir(), 'open-handles-'));
  try {
    const report = join(dir, 'report.json');
    const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const args = [vitest, 'run', '--config', 'test/guard-fixtures/vitest.config.ts', '--reporter=json', `--outputFile=${report}`];
    // Exit code 1 is expected: most fixtures fail on purpose. The report says which.
    await new Promise<void>((resolve) => {
      execFile(process.execPath, args, { cwd: root, env: { ...process.env, DEBUG_OPEN_HANDLES: '' } }, () => resolve());
    });
    const parsed = JSON.parse(await readFile(report, 'utf8')) as {
      testResults: { name: string; status: string; message: string }[];
    };
    return new Map(parsed.testResults.map((r) => [r.name.split(/[\\/]/).pop() ?? r.name, r]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the open-handle guard', () => {
  let results = new Map<string, FileResult>();

  beforeAll(async () => {
    results = await runFixtures();
  }, 120_000);

  afterAll(() => {
    results.clear();
  });

  it.each([
    ['leak-interval.fixture.ts', 'Timeout', 'leak-interval.fixture.ts:7'],
    ['leak-unref-timer.fixture.ts', 'Timeout', 'leak-unref-timer.fixture.ts:4'],
    ['leak-module-scope.fixture.ts', 'Timeout', 'leak-module-scope.fixture.ts:4'],
    ['leak-server.fixture.ts', 'TCPSERVERWRAP', ''],
    ['leak-child.fixture.ts', 'PROCESSWRAP', 'leak-child.fixture.ts:6'],
  ])('fails %s, naming the %s and where it was made', (file, type, site) => {
    const result = results.get(file);
    expect(result?.status).toBe('failed');
    expect(result?.message).toMatch(/Test file left \d+ handle\(s\) open/);
    expect(result?.message).toContain(`- ${type} created`);
    expect(result?.message).toContain(site);
  });

  it('fails the interval file for that one interval only (the baseline timer is not counted)', () => {
    expect(results.get('leak-interval.fixture.ts')?.message).toMatch(/left 1 handle\(s\) open/);
  });

  it('passes a file that stops everything it started, including in its own afterAll', () => {
    expect(results.get('clean.fixture.ts')).toMatchObject({ status: 'passed' });
  });
});
