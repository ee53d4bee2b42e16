/**
 * `npm run test:runtimes`: the built root entry runs the A=5 / B=3 counter
 * scenario over Streamable HTTP against a local Node upstream on Node, Bun,
 * Deno and workerd (through miniflare). Needs `npm run build` first. Prints one
 * line per runtime and `N passed, N failed`; exits non-zero on any failure.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { assertCounterOutcome } from './scenario.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const bin = (name) => join(root, 'node_modules/.bin', name);
const require = createRequire(import.meta.url);
const RUN_TIMEOUT_MS = 60_000;

/** Runs a command to completion (killed after RUN_TIMEOUT_MS); resolves with its output. */
async function run(command, args) {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const [code] = await once(child, 'close');
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${command} exited ${code}:\n${out}`);
  return out.trim();
}

/** Starts the Node upstream; resolves with its URL and a stop function. */
async function startUpstream() {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'upstream.ts')], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let buffered = '';
  for await (const chunk of child.stdout) {
    buffered += chunk;
    if (buffered.includes('\n')) break;
  }
  const stop = async () => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    if (child.exitCode === null) await once(child, 'exit');
    clearTimeout(timer);
  };
  return { url: buffered.trim(), stop };
}

function lastJsonLine(output) {
  return JSON.parse(output.split('\n').at(-1));
}

async function onWorkerd(url) {
  const bundle = await build({
    entryPoints: [join(here, 'worker.mjs')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    logLevel: 'silent',
  });
  const mf = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0].text,
    compatibilityDate: '2026-04-26',
  });
  try {
    const response = await mf.dispatchFetch(`http://smoke.local/?url=${encodeURIComponent(url)}`);
    const body = await response.text();
    if (response.status !== 200) throw new Error(body);
    return JSON.parse(body);
  } finally {
    await mf.dispose();
  }
}

const versionOf = (name) => require(`${name}/package.json`).version;
const cli = join(here, 'cli.mjs');
/** Each runtime: its name, its version, and how it runs the scenario against `url`. */
const runtimes = [
  ['node', process.version, (url) => run(process.execPath, [cli, url]).then(lastJsonLine)],
  ['bun', versionOf('bun'), (url) => run(bin('bun'), [cli, url]).then(lastJsonLine)],
  ['deno', versionOf('deno'), (url) => run(bin('deno'), ['run', '--allow-net', cli, url]).then(lastJsonLine)],
  ['workerd', `${versionOf('workerd')} (miniflare ${versionOf('miniflare')})`, onWorkerd],
];

const upstream = await startUpstream();
let passed = 0;
let failed = 0;
try {
  for (const [name, version, scenario] of runtimes) {
    try {
      const outcome = await scenario(upstream.url);
      assertCounterOutcome(outcome);
      passed++;
      console.log(`ok   ${name} ${version}: ${JSON.stringify(outcome)}`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${name} ${version}: ${error?.stack ?? error}`);
    }
  }
} finally {
  await upstream.stop();
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
