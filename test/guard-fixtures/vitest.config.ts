import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Runs the guard fixtures under the suite's own setup file (see test/open-handles.test.ts).
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/guard-fixtures/*.fixture.ts'],
    setupFiles: ['test/setup.ts'],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
