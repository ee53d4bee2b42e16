import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = fileURLToPath(new URL('./src/', import.meta.url));

export default defineConfig({
  // The package's own name resolves to its source, as tsconfig.json's paths say (examples import it so).
  resolve: {
    alias: [
      { find: /^mcp-upstream-registry$/, replacement: `${src}index.ts` },
      { find: /^mcp-upstream-registry\/([a-z-]+)$/, replacement: `${src}$1/index.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/fixtures/redis-global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Unhandled rejections and errors fail the run (vitest's default, kept explicit).
    dangerouslyIgnoreUnhandledErrors: false,
    pool: 'forks',
  },
});
