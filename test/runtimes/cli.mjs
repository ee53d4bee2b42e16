/**
 * Runs the counter scenario on the runtime that runs this file (Node, Bun,
 * Deno) against the upstream URL given as the first argument, importing the
 * built root entry. Prints one JSON line; exits non-zero on a wrong outcome.
 */
import * as registryModule from '../../dist/index.js';
import { assertCounterOutcome, runCounterScenario } from './scenario.mjs';

const url = globalThis.Deno ? globalThis.Deno.args[0] : globalThis.process.argv[2];
const outcome = await runCounterScenario(registryModule, url);
console.log(JSON.stringify(outcome));
assertCounterOutcome(outcome);
