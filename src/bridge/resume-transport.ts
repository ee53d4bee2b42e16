/**
 * Rebuilding the downstream transport of a session whose `initialize` another
 * worker answered (it died and this worker took the session over).
 *
 * @module
 */

import { InvalidOptionsError } from '../errors.js';

/** The fields of the SDK's Streamable HTTP server transports a resume sets. */
interface SessionFields {
  sessionId?: string | undefined;
  _initialized?: unknown;
}

/**
 * The SDK (1.x) has no public way to open a server transport on an existing
 * session: `handleRequest` sets `sessionId` and the private `_initialized`
 * flag when it sees `initialize`. The Node transport wraps a Web-standard one.
 * Both shapes are checked, so an SDK that renames them fails loudly here
 * instead of answering every request of the session with 400.
 */
function sessionFieldsOf(transport: object): SessionFields {
  const inner = (transport as { _webStandardTransport?: unknown })._webStandardTransport;
  const target = (typeof inner === 'object' && inner !== null ? inner : transport) as SessionFields;
  if (typeof target._initialized !== 'boolean') {
    throw new InvalidOptionsError(
      'createTransport',
      'to resume a session taken over from another worker, it must make an SDK StreamableHTTPServerTransport or WebStandardStreamableHTTPServerTransport',
    );
  }
  return target;
}

/**
 * Marks a freshly made SDK Streamable HTTP server transport as initialized
 * with `sessionId`: it then serves requests carrying that `mcp-session-id`
 * without having seen the `initialize` request (another worker answered it),
 * and refuses a second `initialize`. Call before the transport handles any request.
 *
 * @throws {InvalidOptionsError} when `transport` is not one of the SDK's Streamable HTTP server transports.
 */
export function markTransportInitialized(transport: object, sessionId: string): void {
  const fields = sessionFieldsOf(transport);
  fields.sessionId = sessionId;
  fields._initialized = true;
}
