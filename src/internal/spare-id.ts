/**
 * The id a warm spare's own request carries while it belongs to no downstream
 * session. Apart from the registry so the factories can tell a spare without
 * loading it.
 *
 * @module
 */

import type { SessionCreateRequest } from '../request.js';

/**
 * The downstream session id prefix of a spare's own request (the factory needs
 * a valid request). Never indexed by the registry.
 */
export const SPARE_ID_PREFIX = 'mcp-upstream-registry.spare.';

/**
 * True for a spare's own request: it belongs to no downstream session, and its
 * id is reused by every worker and restart (a stored record under it is no one's).
 */
export function isSpareRequest(request: SessionCreateRequest): boolean {
  return request.downstreamSessionId.startsWith(SPARE_ID_PREFIX);
}
