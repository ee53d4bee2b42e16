/**
 * CPU time of another process, from `/proc/<pid>/stat` (Linux only; NaN elsewhere).
 *
 * @module
 */

import { readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ: 100 on every Linux Node runs on). */
const TICKS_PER_SECOND = 100;

/** User and system (kernel) CPU time the process used so far, in ms; NaN when they cannot be read. */
export function processCpuSplitMs(pid: number): { readonly userMs: number; readonly systemMs: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start with field 3, the state.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userMs: (Number(fields[11]) * 1000) / TICKS_PER_SECOND, systemMs: (Number(fields[12]) * 1000) / TICKS_PER_SECOND };
  } catch {
    return { userMs: Number.NaN, systemMs: Number.NaN };
  }
}

/** User + system CPU time the process used so far, in ms; NaN when it cannot be read. */
export function processCpuMs(pid: number): number {
  const { userMs, systemMs } = processCpuSplitMs(pid);
  return userMs + systemMs;
}
