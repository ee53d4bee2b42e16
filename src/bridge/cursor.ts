/**
 * Pagination cursors of aggregated lists. With several gateways one downstream
 * page holds the next page of every gateway that still has one; the downstream
 * cursor remembers each gateway's own cursor.
 *
 * @module
 */

import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

/** Per gateway: `null` for its first page, otherwise the upstream's cursor. Gateways not listed are exhausted. */
export type GatewayCursors = ReadonlyMap<string, string | null>;

const VERSION = 1;
// Bounds what a client can make the bridge parse.
const MAX_CURSOR_LENGTH = 64 * 1024;

function toBase64Url(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

function invalidCursor(): McpError {
  return new McpError(ErrorCode.InvalidParams, 'Invalid cursor');
}

/** Encodes the cursors of the gateways that have more pages; `undefined` when none has. */
export function encodeCursor(cursors: GatewayCursors): string | undefined {
  if (cursors.size === 0) return undefined;
  return toBase64Url(JSON.stringify({ v: VERSION, c: Object.fromEntries(cursors) }));
}

/**
 * Decodes a downstream cursor. `undefined` (first page) yields `null` for every
 * gateway. Throws an `InvalidParams` McpError for a cursor this bridge did not make
 * or that names an unknown gateway.
 */
export function decodeCursor(cursor: string | undefined, gatewayIds: readonly string[]): GatewayCursors {
  if (cursor === undefined) return new Map(gatewayIds.map((id) => [id, null]));
  if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH) throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromBase64Url(cursor));
  } catch {
    throw invalidCursor();
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalidCursor();
  const { v, c: entries } = parsed as { v?: unknown; c?: unknown };
  if (v !== VERSION || typeof entries !== 'object' || entries === null || Array.isArray(entries)) throw invalidCursor();
  const known = new Set(gatewayIds);
  const result = new Map<string, string | null>();
  for (const [id, value] of Object.entries(entries)) {
    if (!known.has(id) || (value !== null && typeof value !== 'string')) throw invalidCursor();
    result.set(id, value);
  }
  return result;
}
