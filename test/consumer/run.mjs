/**
 * `npm run test:consumer`: the packed tarball as a new user gets it. In a fresh
 * temporary project with the LOWEST supported MCP SDK (the bottom of the peer
 * range), it compiles a consumer under TypeScript 5.9 and 7 in every module
 * resolution mode (no @types/node for the root entry), then runs
 * `smoke.mjs` (instanceof across the ESM and CJS builds, and the A=5 / B=3
 * scenario) on Node. Needs `npm run build` first and the npm registry.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const LOWEST_SDK = process.env.SDK_VERSION ?? pkg.peerDependencies['@modelcontextprotocol/sdk'].replace(/^\^/, '');
const TYPESCRIPT = { 'ts5.9': '5.9', ts7: '7.0' };

const dir = mkdtempSync(join(tmpdir(), 'mcp-upstream-registry-consumer-'));
const sh = (command, args, options = {}) =>
  execFileSync(command, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });

/** A compile: a module mode, the files, and whether @types/node is in. */
const MODES = [
  { name: 'nodenext (ESM)', module: 'nodenext', moduleResolution: 'nodenext', type: 'module' },
  { name: 'nodenext (CJS)', module: 'nodenext', moduleResolution: 'nodenext', type: 'commonjs' },
  { name: 'bundler', module: 'esnext', moduleResolution: 'bundler', type: 'module' },
  { name: 'node10', module: 'commonjs', moduleResolution: 'node10', type: 'commonjs' },
];

function compile(ts, mode, files, types) {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: mode.type }));
  const config = {
    compilerOptions: {
      module: mode.module,
      moduleResolution: mode.moduleResolution,
      target: 'es2022',
      strict: true,
      esModuleInterop: true,
      noEmit: true,
      types,
    },
    files,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config));
  sh(process.execPath, [join(dir, 'node_modules', ts, 'bin/tsc'), '-p', 'tsconfig.json']);
}

let passed = 0;
let failed = 0;
function check(label, fn) {
  const start = performance.now();
  try {
    fn();
    passed++;
    console.log(`ok   ${label} (${Math.round(performance.now() - start)} ms)`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${label}\n${error.stdout ?? ''}${error.stderr ?? ''}${error.stdout ? '' : error.stack}`);
  }
}

try {
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  sh('npm', [
    'install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error',
    join(dir, tarball),
    `@modelcontextprotocol/sdk@${LOWEST_SDK}`,
    'ioredis@5',
    '@types/node@20',
    ...Object.entries(TYPESCRIPT).map(([alias, version]) => `${alias}@npm:typescript@${version}`),
  ]);
  console.log(`consumer project (${Math.round(performance.now())} ms): ${tarball}, @modelcontextprotocol/sdk ${LOWEST_SDK}`);
  for (const file of ['consumer.ts', 'node-entries.ts', 'smoke.mjs']) copyFileSync(join(here, file), join(dir, file));
  copyFileSync(join(here, '../runtimes/scenario.mjs'), join(dir, 'scenario.mjs'));

  for (const ts of Object.keys(TYPESCRIPT)) {
    // TS 7 removed `moduleResolution: node10`; TS 5.9 still checks it.
    for (const mode of MODES.filter((m) => ts !== 'ts7' || m.moduleResolution !== 'node10')) {
      check(`${ts} ${mode.name}: root + /testing, no @types/node`, () => compile(ts, mode, ['consumer.ts'], []));
    }
    check(`${ts} nodenext (ESM): /stdio + /redis with @types/node`, () =>
      compile(ts, MODES[0], ['node-entries.ts'], ['node']),
    );
  }

  const upstream = spawn(process.execPath, ['--import', 'tsx', join(here, '../runtimes/upstream.ts')], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const [line] = await once(upstream.stdout, 'data');
    const url = String(line).trim();
    check(`node ${process.version}, SDK ${LOWEST_SDK}: smoke.mjs`, () => {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
      console.log(sh(process.execPath, ['smoke.mjs', url], { timeout: 60_000 }).trim());
    });
  } finally {
    upstream.stdin.end();
    if (upstream.exitCode === null) await once(upstream, 'exit');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
