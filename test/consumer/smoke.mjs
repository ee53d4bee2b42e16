// Runs in the fresh consumer project: the ESM and the CJS build of the packed
// package, loaded side by side, recognise each other's errors; then the counter
// scenario runs with the lowest supported SDK against the upstream at argv[2].
import { createRequire } from 'node:module';
import * as esm from 'mcp-upstream-registry';
import { assertCounterOutcome, runCounterScenario } from './scenario.mjs';

const cjs = createRequire(import.meta.url)('mcp-upstream-registry');
if (cjs.CapacityError === esm.CapacityError) throw new Error('expected two copies (ESM and CJS)');
const checks = [
  new cjs.CapacityError('registry', 1) instanceof esm.CapacityError,
  new esm.SessionLostError('a') instanceof cjs.RegistryError,
  new esm.SessionLostError('a') instanceof cjs.SessionLostError,
  !(new esm.SessionLostError('a') instanceof cjs.CapacityError),
];
if (checks.includes(false)) throw new Error(`instanceof across ESM and CJS: ${checks}`);
console.log('instanceof across the ESM and CJS builds: ok');
const outcome = await runCounterScenario(esm, process.argv[2]);
assertCounterOutcome(outcome);
console.log(`counter scenario: ${JSON.stringify(outcome)}`);
