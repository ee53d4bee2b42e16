/**
 * Module resolve hook (registered by glob-sync-preload.mjs): `fs` / `node:fs`
 * imported by the conformance CLI resolve to fs-glob-sync.mjs instead.
 */
const SHIM = new URL('./fs-glob-sync.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const fromCli = context.parentURL?.includes('/@modelcontextprotocol/conformance/') === true;
  if (fromCli && (specifier === 'fs' || specifier === 'node:fs')) return { url: SHIM, shortCircuit: true };
  return nextResolve(specifier, context);
}
