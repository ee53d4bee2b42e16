/**
 * `mcp-upstream-registry/node`: Node.js-only building blocks that the
 * runtime-neutral root entry cannot hold.
 *
 * @module
 */

export { type NodeHttpFetch, type NodeHttpFetchOptions, nodeHttpFetch } from './http-fetch.js';
