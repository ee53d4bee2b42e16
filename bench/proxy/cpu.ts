/**
 * CPU time of another process, from `/proc/<pid>/stat` (Linux only; NaN elsewhere).
 *
 * @module
 */

import { readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ: 100 on every Linux Node runs on). */
const TICKS_PER_SECOND = 100;

/** User + system CPU time the process used so far, in ms; NaN when it cannot be read. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start with field 3, the state.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]);
    const system = Number(fields[12]);
    return ((user + system) * 1000) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}
