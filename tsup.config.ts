import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'stdio/index': 'src/stdio/index.ts',
    'redis/index': 'src/redis/index.ts',
    'bridge/index': 'src/bridge/index.ts',
    'otel/index': 'src/otel/index.ts',
    'node/index': 'src/node/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: {
    // `@internal` members stay out of the shipped types (scripts/check-dts.mjs checks it).
    compilerOptions: { stripInternal: true },
    // Self-sufficient types: `Symbol.asyncDispose` without @types/node or a
    // `lib` setting that names it (TS 7's default config has neither).
    banner: '/// <reference lib="esnext.disposable" />',
  },
  // No source maps: they were 63% of the tarball and pointed at `src/`, which
  // is not shipped. The bundles are unminified, so stack traces stay readable.
  sourcemap: false,
  clean: true,
  target: 'node20',
  // `import.meta.url` in the CJS build (the /redis subpath resolves ioredis with it).
  shims: true,
  splitting: true,
  treeshake: true,
  // Zero runtime dependencies: the two tiny ones are bundled (p-limit is
  // ESM-only, and bundling it is what lets the CJS build load on every Node
  // 20). The MCP SDK and ioredis are peer dependencies, never bundled.
  noExternal: ['mitt', 'p-limit', 'yocto-queue'],
  external: ['@modelcontextprotocol/sdk', 'ioredis'],
});
