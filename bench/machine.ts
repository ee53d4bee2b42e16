/**
 * What the benchmarks ran on, so that numbers are never quoted without it.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The machine and runtime of a run. */
export interface MachineInfo {
  readonly cpuModel: string;
  /** Logical CPUs available to the process. */
  readonly cores: number;
  readonly memoryGiB: number;
  readonly platform: string;
  readonly node: string;
  /** 1, 5 and 15 minute load averages when the run started (other work skews results). */
  readonly loadAverage: readonly number[];
}

function cpuModelFromProcCpuinfo(): string | undefined {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const match = /^model name\s*:\s*(.+)$/m.exec(text);
    return match?.[1]?.trim();
  } catch {
    return undefined;
  }
}

/** Reads the machine description now. */
export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() || cpuModelFromProcCpuinfo() || 'unknown CPU';
  return {
    cpuModel: model,
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: os.totalmem() / 1024 ** 3,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg(),
  };
}
