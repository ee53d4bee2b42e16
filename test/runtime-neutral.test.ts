import { build, stop } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

// esbuild keeps a service child process for later builds; end it with the file.
afterAll(() => stop());

// The root entry must run on Bun, Deno and Workers: nothing it reaches may
// import a `node:` module (test:runtimes proves the built entry on workerd).
describe('root entry', () => {
  it('reaches no node: module', async () => {
    const result = await build({
      entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      external: ['@modelcontextprotocol/sdk', '@modelcontextprotocol/sdk/*', 'node:*'],
      logLevel: 'silent',
    });
    const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((i) => i.path));
    expect(imports.filter((path) => path.startsWith('node:'))).toEqual([]);
    expect(imports.length).toBeGreaterThan(0);
  });
});
