/**
 * Result types of the scenarios and their rendering as a markdown table and JSON.
 *
 * @module
 */

import type { MachineInfo } from './machine.js';

/** Unit of a measured value; decides how it is printed. */
export type Unit = 'ops/s' | 'calls/s' | 'ms' | 'µs' | 'B' | 'count';

/** A side-by-side figure measured in the same run. */
export interface Comparison {
  /** What the value was compared with, e.g. `generic-pool`. */
  readonly label: string;
  readonly value: number;
  readonly unit: Unit;
  /** How the ratio reads, e.g. `registry / generic-pool`. */
  readonly ratioLabel: string;
  readonly ratio: number;
}

/** One line of the results table. */
export interface Row {
  readonly measure: string;
  readonly value: number;
  readonly unit: Unit;
  readonly compare?: Comparison;
  /** The target from the issue, in words; absent for informational rows. */
  readonly target?: string;
  /** Whether the target was met; absent for informational rows. */
  readonly met?: boolean;
}

/** What one scenario reports. */
export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly rows: readonly Row[];
  /** Method and caveats, one sentence each. */
  readonly notes: readonly string[];
  /** Raw figures for the JSON file (samples, counts). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Everything a run produced. */
export interface RunReport {
  readonly command: string;
  readonly mode: 'full' | 'quick';
  /** What code ran: a fresh build, or `src/` through tsx. */
  readonly library: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly machine: MachineInfo;
  readonly scenarios: readonly ScenarioResult[];
}

const group = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function significant(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 100) return group.format(value);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

/** A value with its unit, for humans. */
export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'ops/s':
    case 'calls/s':
      return `${significant(value)} ${unit}`;
    case 'ms':
      return `${significant(value)} ms`;
    case 'µs':
      return `${significant(value)} µs`;
    case 'B':
      return value >= 10_240 ? `${significant(value / 1024)} KiB` : `${group.format(value)} B`;
    case 'count':
      return group.format(value);
  }
}

/** A ratio, e.g. `3.42x`. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'n/a';
  if (ratio >= 100) return `${group.format(ratio)}x`;
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}x`;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** The results table in GitHub markdown. */
export function markdownTable(scenarios: readonly ScenarioResult[]): string {
  const lines = [
    '| | Measure | Result | Compared with | Ratio | Target | Met |',
    '|---|---|---:|---|---:|---|:---:|',
  ];
  for (const scenario of scenarios) {
    scenario.rows.forEach((row, index) => {
      const compare = row.compare;
      const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**';
      lines.push(
        `| ${index === 0 ? `**${scenario.id}**` : ''} | ${cell(row.measure)} | ${formatValue(row.value, row.unit)} | ${
          compare === undefined ? '' : cell(`${compare.label}: ${formatValue(compare.value, compare.unit)}`)
        } | ${compare === undefined ? '' : `${formatRatio(compare.ratio)} (${cell(compare.ratioLabel)})`} | ${cell(
          row.target ?? '',
        )} | ${met} |`,
      );
    });
  }
  return lines.join('\n');
}

/** The machine in one line. */
export function machineLine(machine: MachineInfo): string {
  const load = machine.loadAverage.map((l) => l.toFixed(2)).join(' / ');
  return `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB, ${machine.platform}, Node ${machine.node} (load average at start ${load})`;
}

/** The whole `latest.md`: command, machine, table, then each scenario's notes. */
export function markdownReport(report: RunReport): string {
  const parts = [
    '# Benchmark results',
    '',
    `Command: \`${report.command}\` (${report.mode} mode), started ${report.startedAt}, took ${(report.durationMs / 1000).toFixed(1)} s.`,
    '',
    `Machine: ${machineLine(report.machine)}.`,
    '',
    `Library: ${report.library}.`,
    '',
    markdownTable(report.scenarios),
    '',
    '## Method notes',
    '',
  ];
  for (const scenario of report.scenarios) {
    parts.push(`### ${scenario.id}: ${scenario.title}`, '');
    for (const note of scenario.notes) parts.push(`- ${note}`);
    parts.push('');
  }
  return `${parts.join('\n').trimEnd()}\n`;
}

/** The whole `latest.json`. */
export function jsonReport(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
