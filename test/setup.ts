/**
 * Suite-wide guards: a test file fails when it leaves a timer (ref'd or not), socket,
 * server, pipe or child process running, counted by identity from the moment this
 * setup file loads (so module-scope handles of the test file count too). See
 * `fixtures/open-handles.ts`. Unhandled rejections already fail the run (vitest).
 */
import { afterAll } from 'vitest';
import { describeOpenHandles, type KnownLeak, trackOpenHandles } from './fixtures/open-handles.js';

/** Leaks outside the tests' reach, each with the TODO that removes it from this list. */
const KNOWN_LEAKS: readonly KnownLeak[] = [];

const tracker = trackOpenHandles(KNOWN_LEAKS);

afterAll(async () => {
  const left = await tracker.settle(2_000);
  if (left.length > 0) throw new Error(describeOpenHandles(left));
});
