/**
 * What makes the example proxies safe to expose, shared by Express and Hono:
 * the body limit and its 413, the admin endpoint's token check, and a
 * registry snapshot that never shows a downstream session id whole (it is a
 * bearer credential: whoever knows it can use and end the session).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RegistrySnapshot } from 'mcp-upstream-registry';

/** Default request body limit of the example proxies: 4 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Environment variable holding the admin token of `GET /admin/registry`. */
export const ADMIN_TOKEN_ENV = 'MCP_ADMIN_TOKEN';

/** An answer the proxy sends itself: status, headers and a JSON body. */
export interface PlainAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

function jsonRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): PlainAnswer {
  return { status, headers, body: { jsonrpc: '2.0', id: null, error: { code, message } } };
}

/** 413 for a body over `maxBodyBytes`: a JSON-RPC error, nothing forwarded. */
export function bodyTooLarge(maxBodyBytes: number): PlainAnswer {
  return jsonRpcError(413, -32600, `Request body larger than ${maxBodyBytes} bytes`);
}

/** 400 for a body that is not JSON. */
export const PARSE_ERROR: PlainAnswer = jsonRpcError(400, -32700, 'Parse error');

const INCOMPLETE_BODY: PlainAnswer = jsonRpcError(400, -32700, 'Request body incomplete');

/**
 * Reads a web `Request`'s JSON body, stopping as soon as it passes
 * `maxBodyBytes` (a `Content-Length` over the limit is refused before reading).
 */
export async function readJsonBody(request: Request, maxBodyBytes: number): Promise<{ body: unknown } | { refused: PlainAnswer }> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBodyBytes) return { refused: bodyTooLarge(maxBodyBytes) };
  let bytes: Uint8Array | undefined;
  try {
    // A declared length bounds the body (the HTTP parser reads no more): read it whole, which
    // @hono/node-server does without building a web stream. Else count while streaming.
    bytes = Number.isSafeInteger(declared) ? new Uint8Array(await request.arrayBuffer()) : await readBounded(request, maxBodyBytes);
  } catch {
    // The client went away (or was cut off as too slow) mid-body: nobody reads this answer.
    return { refused: INCOMPLETE_BODY };
  }
  if (bytes === undefined) return { refused: bodyTooLarge(maxBodyBytes) };
  try {
    return { body: JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as unknown };
  } catch {
    return { refused: PARSE_ERROR };
  }
}

/** The body of a request without a declared length, or `undefined` once it passes `maxBodyBytes`. */
async function readBounded(request: Request, maxBodyBytes: number): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  for (;;) {
    const read = await reader?.read();
    if (read === undefined || read.done) break;
    size += read.value.byteLength;
    if (size > maxBodyBytes) {
      await reader?.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(read.value);
  }
  return Buffer.concat(chunks);
}

/** A short, stable tag of a downstream session id (12 hex digits of its SHA-256): enough to correlate, useless as a credential. */
export function sessionTag(downstreamSessionId: string): string {
  return createHash('sha256').update(downstreamSessionId).digest('hex').slice(0, 12);
}

/** The snapshot with every downstream session id replaced by its {@link sessionTag}. */
export function redactedSnapshot(snapshot: RegistrySnapshot): RegistrySnapshot {
  return { ...snapshot, sessions: snapshot.sessions.map((s) => ({ ...s, downstreamSessionId: sessionTag(s.downstreamSessionId) })) };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time check of `Authorization: Bearer <token>` (hashing first makes the lengths equal). */
function hasToken(authorization: string | undefined, token: string): boolean {
  const presented = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(presented), digest(token)) && presented.length > 0;
}

/**
 * `GET /admin/registry`: the redacted registry snapshot for a request carrying
 * `Authorization: Bearer <adminToken>`. Without a configured token the
 * endpoint is off (403); a missing or wrong token gets 401.
 */
export function adminRegistryAnswer(authorization: string | undefined, adminToken: string | undefined, snapshot: () => RegistrySnapshot): PlainAnswer {
  return adminAnswer(authorization, adminToken, () => ({ status: 200, headers: { 'cache-control': 'no-store' }, body: redactedSnapshot(snapshot()) }));
}

/**
 * The refusal of any admin endpoint (`/metrics` uses it as it is): `undefined` when the
 * request may read it; off (403) without a configured token, 401 without the right one.
 */
export function adminRefusal(authorization: string | undefined, adminToken: string | undefined): PlainAnswer | undefined {
  if (adminToken === undefined || adminToken === '') {
    return jsonRpcError(403, -32000, `Admin endpoint disabled: set ${ADMIN_TOKEN_ENV}`);
  }
  if (!hasToken(authorization, adminToken)) return jsonRpcError(401, -32000, 'Unauthorized', { 'www-authenticate': 'Bearer' });
  return undefined;
}

/** Any admin endpoint that answers with data: its refusal, else `answer()`. */
export function adminAnswer(authorization: string | undefined, adminToken: string | undefined, answer: () => PlainAnswer): PlainAnswer {
  return adminRefusal(authorization, adminToken) ?? answer();
}
