/**
 * SHA-256 for request fingerprints, computed synchronously in the
 * `SessionCreateRequest` constructor path on any runtime: `node:crypto` would
 * break the runtime-neutral root entry, and WebCrypto's `digest` is async.
 *
 * The digest is `@noble/hashes` (audited, synchronous, no `node:` imports)
 * rather than a hand-written one: a cryptographic hash on a hot path is not
 * code to maintain here. It is a devDependency that tsup bundles into `dist/`
 * (tsup bundles what is not a dependency): its v2 is ESM-only, and bundling
 * keeps the CommonJS build working on every Node 20 without `require(esm)`,
 * and adds no install-time dependency for users.
 *
 * @module
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

// One encoder for every call: noble's `utf8ToBytes` builds a new one and copies its output each time.
const encoder = new TextEncoder();

/**
 * SHA-256 of the UTF-8 encoding of `input`, as 64 lower-case hex digits.
 *
 * Synchronous and free of `node:` imports, so it runs on Node, Bun, Deno and
 * Workers alike. Lone surrogates are encoded as U+FFFD, as `TextEncoder` does.
 *
 * @example
 * ```ts
 * sha256Hex('abc'); // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 * ```
 */
export function sha256Hex(input: string): string {
  return bytesToHex(sha256(encoder.encode(input)));
}
