/**
 * Suite-wide guards: a test file fails when it leaves a timer, socket, server or
 * child process running. Unhandled rejections already fail the run (vitest).
 */
import { afterAll, beforeAll } from 'vitest';

const WATCHED = new Set(['Timeout', 'TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap', 'PipeWrap', 'TTYWrap', 'Immediate']);

function countWatched(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    if (WATCHED.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

function leaks(baseline: Map<string, number>): string[] {
  const found: string[] = [];
  for (const [type, count] of countWatched()) {
    const extra = count - (baseline.get(type) ?? 0);
    if (extra > 0) found.push(`${extra} x ${type}`);
  }
  return found;
}

let baseline = new Map<string, number>();

beforeAll(() => {
  baseline = countWatched();
});

afterAll(async () => {
  // Closed sockets and exited children release their handles a few event-loop
  // turns after the promise that closed them resolves; give them those turns.
  for (let turn = 0; turn < 200; turn++) {
    if (leaks(baseline).length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const left = leaks(baseline);
  if (left.length > 0) throw new Error(`Test file left handles open: ${left.join(', ')}`);
});
