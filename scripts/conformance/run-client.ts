/**
 * `npm run conformance:client`: runs the official MCP conformance suite's
 * CLIENT scenarios (`@modelcontextprotocol/conformance`) with
 * scripts/conformance/client.ts (a registry on the default factory) as the
 * client under test, one scenario at a time, and prints one line per scenario.
 *
 * Scenarios listed in EXPECTED_FAILURES are reported but do not fail the run;
 * a listed scenario that passes fails it (the list is stale). Results of the
 * CLI land in a temporary directory, removed afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const preload = join(root, 'scripts/conformance/glob-sync-preload.mjs');
const tsx = join(root, 'node_modules/tsx/dist/esm/index.mjs');
const client = `node --import ${tsx} ${join(root, 'scripts/conformance/client.ts')}`;

/** Client scenarios of conformance 0.1.16 that apply to a registry + default factory. */
export const SCENARIOS: readonly string[] = [
  'initialize',
  'tools_call',
  'elicitation-sep1034-client-defaults',
  'sse-retry',
  'auth/metadata-default',
  'auth/metadata-var1',
  'auth/metadata-var2',
  'auth/metadata-var3',
  'auth/basic-cimd',
  'auth/scope-from-www-authenticate',
  'auth/scope-from-scopes-supported',
  'auth/scope-omitted-when-undefined',
  'auth/scope-step-up',
  'auth/scope-retry-limit',
  'auth/token-endpoint-auth-basic',
  'auth/token-endpoint-auth-post',
  'auth/token-endpoint-auth-none',
  'auth/pre-registration',
  'auth/2025-03-26-oauth-metadata-backcompat',
  'auth/2025-03-26-oauth-endpoint-fallback',
  'auth/client-credentials-basic',
  'auth/client-credentials-jwt',
  'auth/resource-mismatch',
  'auth/offline-access-scope',
  'auth/offline-access-not-supported',
];

/** Scenarios known to fail, with the reason (see docs/mcp-factory.md). */
export const EXPECTED_FAILURES: ReadonlyMap<string, string> = new Map([]);

function run(scenario: string, cwd: string): { passed: boolean; summary: string } {
  const result = spawnSync(
    process.execPath,
    ['--import', preload, cli, 'client', '--command', client, '--scenario', scenario, '--timeout', '30000'],
    { cwd, encoding: 'utf8', timeout: 60_000 },
  );
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  const summary = /Passed: \d+\/\d+, \d+ failed, \d+ warnings/.exec(output)?.[0] ?? `no summary (exit ${result.status})`;
  return { passed: result.status === 0, summary };
}

function main(): void {
  const only = process.argv.slice(2);
  const scenarios = only.length > 0 ? only : SCENARIOS;
  const cwd = mkdtempSync(join(tmpdir(), 'conformance-client-'));
  let unexpected = 0;
  try {
    for (const scenario of scenarios) {
      const started = Date.now();
      const { passed, summary } = run(scenario, cwd);
      const expected = EXPECTED_FAILURES.get(scenario);
      const verdict = passed ? (expected === undefined ? 'PASS' : 'PASS (stale expected failure)') : expected === undefined ? 'FAIL' : 'expected FAIL';
      if (passed !== (expected === undefined)) unexpected += 1;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`${verdict.padEnd(14)} ${scenario.padEnd(44)} ${summary} (${seconds} s)${expected ? ` — ${expected}` : ''}`);
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  process.exitCode = unexpected === 0 ? 0 : 1;
}

main();
