/**
 * Preload for the MCP conformance CLI on Node 20: the CLI imports `globSync`
 * from `fs`, which Node added in 22. ESM named exports of built-ins cannot be
 * added at run time, so on a Node without it this registers a resolve hook
 * that gives the CLI a `fs` with a small `globSync` (see fs-glob-sync.mjs).
 * A no-op on Node >= 22.
 *
 * Usage: node --import ./scripts/conformance/glob-sync-preload.mjs node_modules/@modelcontextprotocol/conformance/dist/index.js …
 */
import fs from 'node:fs';
import { register } from 'node:module';

if (typeof fs.globSync !== 'function') register('./glob-sync-hooks.mjs', import.meta.url);
