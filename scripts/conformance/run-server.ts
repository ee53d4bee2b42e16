/**
 * Runs the MCP conformance suite's server scenarios (@modelcontextprotocol/conformance)
 * against our upstream fixture directly, and through both example proxies with
 * one gateway and with two (the fixture split in two disjoint halves, names
 * merged with `namespace: 'none'`). Fails when a proxy fails a check that
 * passes directly.
 *
 *   npm run conformance:server            # all targets
 *   npm run conformance:server -- --verbose
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProxy as startExpress } from '../../examples/express/proxy.js';
import { startProxy as startHono } from '../../examples/hono/proxy.js';
import { startConformanceUpstream } from './server-upstream.js';

interface Check {
  readonly id: string;
  readonly status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  readonly errorMessage?: string;
}
type Results = Map<string, Check[]>;

const cli = createRequire(import.meta.url).resolve('@modelcontextprotocol/conformance/dist/index.js');
const preload = fileURLToPath(new URL('./glob-sync-preload.mjs', import.meta.url));
const verbose = process.argv.includes('--verbose');

/** Runs every server scenario against `url`; the checks of each scenario. */
async function runSuite(url: string): Promise<Results> {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-conformance-'));
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', preload, cli, 'server', '--suite', 'all', '--url', url, '-o', join(dir, 'results')], {
        cwd: dir,
        stdio: verbose ? 'inherit' : 'ignore',
      });
      child.on('error', reject);
      child.on('exit', (c) => resolve(c ?? 1));
    });
    const results: Results = new Map();
    const root = join(dir, 'results');
    for (const entry of readdirSync(root, { recursive: true }).map(String)) {
      if (!entry.endsWith('checks.json')) continue;
      const scenario = entry.split('/')[0]?.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '') ?? entry;
      results.set(scenario, JSON.parse(readFileSync(join(root, entry), 'utf8')) as Check[]);
    }
    if (results.size === 0) throw new Error(`conformance CLI exited ${code} without results`);
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function verdict(checks: readonly Check[] | undefined): string {
  if (checks === undefined) return 'missing';
  const failed = checks.filter((c) => c.status === 'FAILURE').length;
  const passed = checks.filter((c) => c.status === 'SUCCESS').length;
  const warned = checks.filter((c) => c.status === 'WARNING').length;
  if (failed > 0) return `FAIL ${failed}/${passed + failed}`;
  return `pass ${passed}/${passed}${warned > 0 ? ` (${warned} warn)` : ''}`;
}

async function main(): Promise<void> {
  const upstream = await startConformanceUpstream();
  const halves = await Promise.all([0, 1].map((index) => startConformanceUpstream({ part: { index, of: 2 } })));
  const one = { gateways: [{ id: 'everything', url: upstream.url }] };
  const two = {
    gateways: halves.map((half, i) => ({ id: `half${i}`, url: half.url })),
    bridge: { namespace: 'none' as const },
  };
  const proxies = [await startExpress(one), await startHono(one), await startExpress(two), await startHono(two)];
  const targets: [string, string][] = [
    ['direct', upstream.url],
    ['express', proxies[0]?.url as string],
    ['hono', proxies[1]?.url as string],
    ['express 2 gw', proxies[2]?.url as string],
    ['hono 2 gw', proxies[3]?.url as string],
  ];
  const all = new Map<string, Results>();
  try {
    for (const [name, url] of targets) {
      const started = Date.now();
      all.set(name, await runSuite(url));
      console.log(`${name}: ${all.get(name)?.size} scenarios in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const proxy of proxies) await proxy.close();
    for (const server of [upstream, ...halves]) await server.close();
  }
  const direct = all.get('direct') as Results;
  const scenarios = [...direct.keys()].sort();
  const names = targets.map(([n]) => n);
  console.log(`\n| scenario | ${names.join(' | ')} |\n|---|${names.map(() => '---').join('|')}|`);
  const regressions: string[] = [];
  for (const scenario of scenarios) {
    console.log(`| ${scenario} | ${names.map((n) => verdict(all.get(n)?.get(scenario))).join(' | ')} |`);
    const passingDirect = new Set((direct.get(scenario) ?? []).filter((c) => c.status === 'SUCCESS').map((c) => c.id));
    for (const name of names.slice(1)) {
      for (const check of all.get(name)?.get(scenario) ?? []) {
        if (check.status === 'FAILURE' && passingDirect.has(check.id)) regressions.push(`${name} ${scenario} ${check.id}: ${check.errorMessage ?? ''}`);
      }
      if (!all.get(name)?.has(scenario)) regressions.push(`${name} ${scenario}: no result`);
    }
  }
  const totals = names.map((n) => {
    const checks = [...(all.get(n)?.values() ?? [])].flat();
    return `${n} ${checks.filter((c) => c.status === 'SUCCESS').length} passed, ${checks.filter((c) => c.status === 'FAILURE').length} failed`;
  });
  console.log(`\nChecks: ${totals.join('; ')}`);
  if (regressions.length > 0) {
    console.error(`\nThrough a proxy, failing what passes directly:\n${regressions.join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
