/**
 * Loads the library under test.
 *
 * By default the benchmarks run on a fresh JavaScript build of `src/` made
 * with tsup (the bundler and target of the published package, no type
 * declarations) into `node_modules/.cache/`, because that is the code users
 * run. Running `src/` through tsx instead (`--source src`) is handy for
 * profiling with source names, but esbuild's `keepNames` there wraps every
 * named closure in a `__name()` call that gives it its own property store:
 * it adds CPU time and hundreds of bytes per session that the published build
 * does not have.
 *
 * @module
 */

import { rm } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Bridge from '../src/bridge/index.js';
import type * as Root from '../src/index.js';
import type * as Otel from '../src/otel/index.js';
import type * as Stdio from '../src/stdio/index.js';
import type * as Testing from '../src/testing/index.js';

/** Where the library was loaded from. */
export type LibrarySource = 'build' | 'src';

/** The root, `/testing`, `/stdio` and `/bridge` entry points, from one build (so classes match across them). */
export interface Library {
  readonly root: typeof Root;
  readonly testing: typeof Testing;
  readonly stdio: typeof Stdio;
  readonly bridge: typeof Bridge;
  /** The `/otel` entry (telemetry-on variants). */
  readonly otel: typeof Otel;
  readonly source: LibrarySource;
  /** Removes the build (the loaded modules stay usable). */
  dispose(): Promise<void>;
}

const ROOT = new URL('../', import.meta.url);
// Per process, so that two runs at once never load each other's build.
const OUT_DIR = fileURLToPath(new URL(`node_modules/.cache/mcp-upstream-registry-bench/${process.pid}/`, ROOT));

async function buildLibrary(): Promise<void> {
  const { build } = await import('tsup');
  await build({
    config: false,
    entry: {
      index: fileURLToPath(new URL('src/index.ts', ROOT)),
      'testing/index': fileURLToPath(new URL('src/testing/index.ts', ROOT)),
      'stdio/index': fileURLToPath(new URL('src/stdio/index.ts', ROOT)),
      'bridge/index': fileURLToPath(new URL('src/bridge/index.ts', ROOT)),
      'otel/index': fileURLToPath(new URL('src/otel/index.ts', ROOT)),
    },
    format: ['esm'],
    target: 'node20',
    splitting: true,
    treeshake: false,
    dts: false,
    sourcemap: false,
    clean: true,
    silent: true,
    outDir: OUT_DIR,
  });
}

/** Builds (unless `source` is `'src'`) and imports the library. */
export async function loadLibrary(source: LibrarySource): Promise<Library> {
  if (source === 'src') {
    const [root, testing, stdio, bridge, otel] = await Promise.all([
      import('../src/index.js'),
      import('../src/testing/index.js'),
      import('../src/stdio/index.js'),
      import('../src/bridge/index.js'),
      import('../src/otel/index.js'),
    ]);
    return { root, testing, stdio, bridge, otel, source, dispose: () => Promise.resolve() };
  }
  await buildLibrary();
  const url = (path: string): string => pathToFileURL(`${OUT_DIR}${path}`).href;
  const [root, testing, stdio, bridge, otel] = (await Promise.all([
    import(url('index.js')),
    import(url('testing/index.js')),
    import(url('stdio/index.js')),
    import(url('bridge/index.js')),
    import(url('otel/index.js')),
  ])) as [typeof Root, typeof Testing, typeof Stdio, typeof Bridge, typeof Otel];
  return { root, testing, stdio, bridge, otel, source, dispose: () => rm(OUT_DIR, { recursive: true, force: true }) };
}
