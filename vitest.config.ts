import { defineConfig } from 'vitest/config';

export default defineConfig({
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
