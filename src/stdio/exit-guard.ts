/**
 * Last line of defence against orphaned children: SIGKILL every tracked child
 * when this process exits. The `'exit'` listener exists only while at least
 * one child is tracked, so an idle library leaves `process` untouched.
 *
 * `'exit'` handlers must be synchronous, hence a plain SIGKILL with no wait:
 * the children are reaped by init once this process is gone.
 *
 * @module
 */

import process from 'node:process';

/** What the guard needs from a child: a synchronous, best-effort SIGKILL. */
export interface KillableOnExit {
  killNow(): void;
}

const tracked = new Set<KillableOnExit>();

function killAll(): void {
  for (const child of tracked) child.killNow();
  tracked.clear();
}

/** Kill `child` if this process exits while it is still tracked. */
export function trackOnExit(child: KillableOnExit): void {
  if (tracked.size === 0) process.on('exit', killAll);
  tracked.add(child);
}

/** Stop tracking `child` (it exited); removes the listener with the last child. */
export function untrackOnExit(child: KillableOnExit): void {
  if (!tracked.delete(child)) return;
  if (tracked.size === 0) process.off('exit', killAll);
}

/** Number of children the guard would kill now; for tests and diagnostics. */
export function trackedOnExitCount(): number {
  return tracked.size;
}
