/**
 * The bounded close of a stdio child, as the MCP stdio transport describes it:
 * close stdin, wait; SIGTERM, wait; SIGKILL, wait.
 *
 * @module
 */

import type { StdioChild } from './child.js';

/** Which step ended the child; `'unreaped'` if it had not exited even after SIGKILL and the final wait. */
export type TerminateOutcome = 'already-exited' | 'stdin' | 'sigterm' | 'sigkill' | 'unreaped';

/** Bounds of {@link terminateChild}. */
export interface TerminateOptions {
  /** How long each step waits for the child to exit, in ms. */
  readonly stepTimeoutMs: number;
  /** When it aborts (now or later), skip the graceful steps and SIGKILL at once. */
  readonly signal?: AbortSignal;
}

/**
 * Ends `child` and resolves once it has exited and been reaped, or after
 * SIGKILL plus one more bounded wait: at most 3 x `stepTimeoutMs` in all,
 * 1 x after the signal aborts. With a process group, the group gets a final
 * SIGKILL once the child is gone, so descendants it left behind die too.
 */
export async function terminateChild(child: StdioChild, options: TerminateOptions): Promise<TerminateOutcome> {
  const outcome = await escalate(child, options);
  // Only reaches leftover group members: the leader is gone, and without a group this is a no-op.
  child.kill('SIGKILL');
  return outcome;
}

async function escalate(child: StdioChild, { stepTimeoutMs, signal }: TerminateOptions): Promise<TerminateOutcome> {
  if (child.exit !== undefined) return 'already-exited';
  child.endStdin();
  if (await child.waitForExit(stepTimeoutMs, signal)) return 'stdin';
  if (signal?.aborted !== true) {
    child.kill('SIGTERM');
    if (await child.waitForExit(stepTimeoutMs, signal)) return 'sigterm';
  }
  child.kill('SIGKILL');
  // No signal here: this wait is what keeps us from returning with a zombie, and it is bounded anyway.
  return (await child.waitForExit(stepTimeoutMs)) ? 'sigkill' : 'unreaped';
}
