import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Modules a source file loads at run time: value imports and re-exports (type-only ones are erased). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  const re = /^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms;
  for (const m of text.matchAll(re)) found.push(m[1] as string);
  return found;
}

/** Every package reached at run time from `entry`, following relative imports. */
function reachablePackages(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  }
  return packages;
}

describe('entry isolation', () => {
  it('the root entry never loads @opentelemetry/* (the telemetry hooks are types only)', () => {
    const packages = [...reachablePackages(resolve(SRC, 'index.ts'))];
    expect(packages.length).toBeGreaterThan(0);
    expect(packages.filter((p) => p.startsWith('@opentelemetry/'))).toEqual([]);
  });

  it('the /otel entry loads @opentelemetry/api and no OpenTelemetry SDK', () => {
    const packages = [...reachablePackages(resolve(SRC, 'otel/index.ts'))].filter((p) => p.startsWith('@opentelemetry/'));
    expect(packages).toEqual(['@opentelemetry/api']);
  });
});
