// Node 20 lacks fs.globSync (Node >= 22), which the @modelcontextprotocol/conformance
// CLI imports by name. Preload with `node --import ./conformance/fs-globsync.mjs`:
// a resolve hook hands that package a copy of 'fs' with a small globSync. Only
// `**/<file name>` patterns (all the CLI asks for) are supported.
import fs from 'node:fs';
import { register } from 'node:module';

if (typeof fs.globSync !== 'function') {
  register(
    `data:text/javascript,${encodeURIComponent(`
      const shim = ${JSON.stringify(new URL('./fs-shim.mjs', import.meta.url).href)};
      export async function resolve(specifier, context, next) {
        if ((specifier === 'fs' || specifier === 'node:fs') && context.parentURL?.includes('/@modelcontextprotocol/conformance/')) {
          return { url: shim, shortCircuit: true };
        }
        return next(specifier, context);
      }
    `)}`,
  );
}
