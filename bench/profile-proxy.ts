/**
 * Profiles an example proxy under load: starts the bench upstream, starts
 * `examples/<name>/server.ts` with `node --cpu-prof`, drives it from this
 * process (a separate client process) with N downstream sessions calling
 * `increment` in a closed loop, stops the proxy (which writes the profile) and
 * prints where its CPU time went, by component and function.
 *
 * Usage: `node --import tsx bench/profile-proxy.ts [--example express|hono]
 * [--sessions 50] [--seconds 20] [--out .scratch-profiles]`
 *
 * @module
 */

import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { now } from './harness.js';
import { closeSessions, closedLoopCalls, connectSessions } from './proxy/clients.js';
import { processCpuSplitMs } from './proxy/cpu.js';
import { type ExampleName, startExampleProxy } from './proxy/example-proxy.js';
import { type Window, profileMarkdown, summarizeProfile } from './proxy/profile-summary.js';
import { startUpstream } from './upstream.js';

/** The monotonic clock in µs, comparable with a V8 profile's timestamps. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      example: { type: 'string', default: 'express' },
      sessions: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '20' },
      out: { type: 'string', default: '.scratch-profiles' },
    },
    strict: true,
  });
  const name = values.example as ExampleName;
  if (name !== 'express' && name !== 'hono') throw new Error('--example must be express or hono');
  const sessionCount = Number(values.sessions);
  const seconds = Number(values.seconds);
  const dir = resolve(values.out, `${name}-${process.pid}`);
  await mkdir(dir, { recursive: true });

  const upstream = await startUpstream();
  try {
    const proxy = await startExampleProxy(name, upstream.url, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=200']);
    let calls = 0;
    let cpu = { userMs: Number.NaN, systemMs: Number.NaN };
    let window: Window | undefined;
    try {
      const sessions = await connectSessions(proxy.url, sessionCount);
      // Warm-up (JIT), then the measured load; the profile covers startup and warm-up too, reported apart below.
      await closedLoopCalls(sessions, now() + 3_000);
      const cpuBefore = processCpuSplitMs(proxy.pid);
      const fromUs = monotonicUs();
      calls = await closedLoopCalls(sessions, now() + seconds * 1000);
      window = { fromUs, toUs: monotonicUs() };
      const cpuAfter = processCpuSplitMs(proxy.pid);
      cpu = { userMs: cpuAfter.userMs - cpuBefore.userMs, systemMs: cpuAfter.systemMs - cpuBefore.systemMs };
      await closeSessions(sessions);
    } finally {
      await proxy.close();
    }
    // Node writes one profile per thread (tsx's loader hooks run on a worker thread): the main thread's is `<...>.0.<n>.cpuprofile`.
    const file = (await readdir(dir)).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
    if (file === undefined) throw new Error(`no main-thread .cpuprofile in ${dir}`);
    const summary = summarizeProfile(JSON.parse(await readFile(join(dir, file), 'utf8')), window);
    const report = [
      `# ${name} example proxy, ${sessionCount} sessions, ${seconds} s of load`,
      '',
      `Proxy CPU during the measured load (from /proc): user ${cpu.userMs.toFixed(0)} ms + system ${cpu.systemMs.toFixed(0)} ms for ${calls} calls = ${(((cpu.userMs + cpu.systemMs) * 1000) / calls).toFixed(0)} µs per call (${((cpu.systemMs * 1000) / calls).toFixed(0)} µs of it in the kernel). Load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' / ')}.`,
      'The profile below counts only the samples taken during the measured load (V8 profile timestamps and process.hrtime share CLOCK_MONOTONIC on Linux).',
      '',
      profileMarkdown(summary, calls, ((cpu.userMs + cpu.systemMs) * 1000) / calls),
      '',
    ].join('\n');
    await writeFile(join(dir, 'summary.md'), report);
    console.log(report);
    console.log(`Profile: ${join(dir, file)}`);
  } finally {
    await upstream.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
