/** What the tests of in-process example workers share: a quiet logger and one JSON-RPC POST with a session id. */

/** A logger that drops everything. */
export const silentLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** POSTs one JSON-RPC message of `sessionId` to a worker's MCP endpoint, as a load balancer would route it. */
export function postToWorker(url: string, sessionId: string, message: object): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify(message),
  });
}
