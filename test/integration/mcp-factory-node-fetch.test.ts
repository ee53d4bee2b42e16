/**
 * The whole mcpSessionFactory suite against real SDK servers
 * (mcp-factory.test.ts) once more, with every upstream request sent by
 * `nodeHttpFetch` instead of undici's `fetch`: connect, headers, timeouts,
 * bad answers, kills, 404s, DELETE on close, re-attach. The factory looks
 * `globalThis.fetch` up per request, so installing it there reaches every
 * transport the suite makes.
 */
import { afterAll, expect } from 'vitest';
import { nodeHttpFetch } from '../../src/node/index.js';

const undiciFetch = globalThis.fetch;
let requests = 0;
let fallbacks = 0;
const viaNode = nodeHttpFetch({
  fallback: (url, init) => {
    fallbacks++;
    return undiciFetch(url, init);
  },
});
globalThis.fetch = ((url: string | URL, init?: RequestInit) => {
  requests++;
  return viaNode(url, init);
}) as typeof fetch;

afterAll(() => {
  globalThis.fetch = undiciFetch;
  viaNode.destroy();
  // The SDK's Streamable HTTP requests ask for `redirect: 'manual'`: most of the suite's went through node:http.
  expect(requests - fallbacks).toBeGreaterThan(200);
});

await import('./mcp-factory.test.js');
