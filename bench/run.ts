/**
 * `npm run bench`: runs scenarios P1-P9, prints the results as a markdown
 * table, and writes `bench/results/latest.md` and `latest.json`.
 *
 * Usage: `npm run bench [-- --quick] [-- --only P1,P4]`
 *
 * - `--quick`: shorter rounds and fewer runs; about a minute on an idle 2-core machine, two when loaded.
 * - `--only P1,P4`: run some scenarios; the results are printed but not written.
 * - `--source src`: run `src/` through tsx instead of a fresh build (see `library.ts`).
 *
 * Benchmarks are not tests: nothing here fails on a missed target. The
 * process exits 0 unless a scenario throws.
 *
 * @module
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canCollectGarbage, now } from './harness.js';
import { type Library, type LibrarySource, loadLibrary } from './library.js';
import { describeMachine } from './machine.js';
import { type RunReport, type ScenarioResult, jsonReport, machineLine, markdownReport, markdownTable } from './report.js';
import { runP1 } from './scenarios/p1-hit-path.js';
import { runP2P3 } from './scenarios/p2-p3-calls.js';
import { runP4 } from './scenarios/p4-scale.js';
import { runP5 } from './scenarios/p5-close.js';
import { runP6 } from './scenarios/p6-dead-upstream.js';
import { runP7 } from './scenarios/p7-cold-storm.js';
import { runP8 } from './scenarios/p8-proxy-hop.js';
import { runP9 } from './scenarios/p9-stdio-cold-start.js';
import { type Settings, settingsFor } from './settings.js';

const SCENARIOS: ReadonlyArray<{ readonly id: string; readonly run: (settings: Settings, lib: Library) => Promise<ScenarioResult> }> = [
  { id: 'P1', run: runP1 },
  { id: 'P2', run: runP2P3 },
  { id: 'P4', run: runP4 },
  { id: 'P5', run: runP5 },
  { id: 'P6', run: runP6 },
  { id: 'P7', run: runP7 },
  { id: 'P8', run: runP8 },
  { id: 'P9', run: runP9 },
];

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

function selected(only: string | undefined): typeof SCENARIOS {
  if (only === undefined) return SCENARIOS;
  // P3 is measured together with P2.
  const wanted = new Set(only.split(',').map((id) => (id.trim().toUpperCase() === 'P3' ? 'P2' : id.trim().toUpperCase())));
  const unknown = [...wanted].filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: P1-P9`);
  return SCENARIOS.filter((s) => wanted.has(s.id));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      source: { type: 'string', default: 'build' },
    },
    strict: true,
  });
  const mode = values.quick === true ? 'quick' : 'full';
  const settings = settingsFor(mode);
  const scenarios = selected(values.only);
  if (values.source !== 'build' && values.source !== 'src') throw new Error("--source must be 'build' or 'src'");
  const source: LibrarySource = values.source;
  const machine = describeMachine();
  if (!canCollectGarbage()) console.warn('warning: run with --expose-gc (npm run bench does) for heap figures and GC between rounds');
  console.log(`Benchmarks (${mode}) on ${machineLine(machine)}\n`);

  const startedAt = new Date().toISOString();
  const start = now();
  const lib = await loadLibrary(source);
  console.log(source === 'build' ? `Library: fresh tsup build of src/ (${((now() - start) / 1000).toFixed(1)} s)\n` : 'Library: src/ through tsx (--source src)\n');
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      const scenarioStart = now();
      process.stdout.write(`${scenario.id === 'P2' ? 'P2/P3' : scenario.id} ... `);
      results.push(await scenario.run(settings, lib));
      console.log(`${((now() - scenarioStart) / 1000).toFixed(1)} s`);
    }
  } finally {
    await lib.dispose();
  }
  const report: RunReport = {
    command: `npm run bench${mode === 'quick' ? ' -- --quick' : ''}${source === 'src' ? ' -- --source src' : ''}`,
    mode,
    library: source === 'build' ? 'fresh tsup build of src/ (ESM, node20, no keepNames)' : 'src/ through tsx',
    startedAt,
    durationMs: now() - start,
    machine,
    scenarios: results,
  };
  console.log(`\n${markdownTable(results)}\n`);
  console.log(`Done in ${(report.durationMs / 1000).toFixed(1)} s.`);
  if (values.only !== undefined) {
    console.log('(--only: results not written)');
    return;
  }
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(new URL('./results/latest.md', import.meta.url), markdownReport(report));
  await writeFile(new URL('./results/latest.json', import.meta.url), jsonReport(report));
  console.log('Written: bench/results/latest.md, bench/results/latest.json');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
