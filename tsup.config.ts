import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'stdio/index': 'src/stdio/index.ts',
    'redis/index': 'src/redis/index.ts',
    'bridge/index': 'src/bridge/index.ts',
    'otel/index': 'src/otel/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
  // p-limit is ESM-only; bundle it so the CJS build works on every Node 20.
  noExternal: ['p-limit', 'yocto-queue'],
  external: ['ioredis'],
});
