import { createServer } from 'node:net';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import {
  type ErrorClass,
  classifyError,
  isCapabilityNotAdvertised,
  isSessionGone,
  markLocalTransportError,
  markNotFoundWithoutSession,
} from '../src/classify.js';
import { CreateFailedError, InvalidRequestError, SessionLostError } from '../src/errors.js';

function withCode(error: Error, code: string): Error {
  return Object.assign(error, { code });
}

// Node's fetch: TypeError('fetch failed') whose cause is the socket error.
function fetchFailed(causeCode: string): TypeError {
  return new TypeError('fetch failed', { cause: withCode(new Error(`connect ${causeCode}`), causeCode) });
}

const table: ReadonlyArray<readonly [string, unknown, ErrorClass]> = [
  // MCP errors
  ['McpError ConnectionClosed made by the SDK (Connection closed)', new McpError(ErrorCode.ConnectionClosed, 'Connection closed'), 'transport'],
  ['McpError -32000 answered by the upstream (server-defined)', new McpError(-32000, 'Rate limit exceeded'), 'application'],
  ['McpError -32050 answered by the upstream', new McpError(-32050, 'Quota'), 'application'],
  ['McpError -32099 answered by the upstream', new McpError(-32099, 'Busy'), 'application'],
  ['McpError -32000 made locally and branded', markLocalTransportError(new McpError(-32000, 'Upstream connection closed')), 'transport'],
  ['McpError -32000 Request was cancelled (SDK, not a dead connection)', new McpError(-32000, 'Request was cancelled'), 'application'],
  ['McpError RequestTimeout', new McpError(ErrorCode.RequestTimeout, 'Request timed out'), 'timeout'],
  ['McpError MethodNotFound', new McpError(ErrorCode.MethodNotFound, 'Method not found'), 'method-not-found'],
  ['McpError InvalidParams', new McpError(ErrorCode.InvalidParams, 'bad'), 'application'],
  ['McpError InternalError', new McpError(ErrorCode.InternalError, 'boom'), 'application'],
  ['McpError InvalidRequest', new McpError(ErrorCode.InvalidRequest, 'bad'), 'application'],
  ['UrlElicitationRequiredError', new UrlElicitationRequiredError([]), 'application'],
  // The SDK client's local capability check (enforceStrictCapabilities)
  ['Server does not support tools', new Error('Server does not support tools (required for tools/list)'), 'method-not-found'],
  ['Server does not support prompts', new Error('Server does not support prompts (required for prompts/list)'), 'method-not-found'],
  ['Client does not support (ours, not the server)', new Error('Client does not support roots capability (required for roots/list)'), 'application'],
  // Streamable HTTP
  ['StreamableHTTPError 404', new StreamableHTTPError(404, 'Error POSTing to endpoint: Session not found'), 'transport'],
  ['StreamableHTTPError 404 to a request without a session id (stateless)', markNotFoundWithoutSession(new StreamableHTTPError(404, 'Not Found')), 'application'],
  ['StreamableHTTPError 502 (an answer: that call fails only)', new StreamableHTTPError(502, 'Bad Gateway'), 'application'],
  ['StreamableHTTPError 503 (an answer: that call fails only)', new StreamableHTTPError(503, 'Service Unavailable'), 'application'],
  ['StreamableHTTPError 504 (an answer: that call fails only)', new StreamableHTTPError(504, 'Gateway Timeout'), 'application'],
  ['StreamableHTTPError 408', new StreamableHTTPError(408, 'Request Timeout'), 'timeout'],
  ['StreamableHTTPError 400', new StreamableHTTPError(400, 'Bad Request'), 'application'],
  ['StreamableHTTPError 401', new StreamableHTTPError(401, 'Unauthorized'), 'application'],
  ['StreamableHTTPError 403', new StreamableHTTPError(403, 'Forbidden'), 'application'],
  ['StreamableHTTPError 429', new StreamableHTTPError(429, 'Too Many Requests'), 'application'],
  ['StreamableHTTPError 500', new StreamableHTTPError(500, 'Internal Server Error'), 'application'],
  ['StreamableHTTPError -1 (not MCP content type)', new StreamableHTTPError(-1, 'Unexpected content type: text/html'), 'application'],
  // SSE
  ['SseError 404', new SseError(404, 'Not Found', undefined as never), 'transport'],
  ['SseError 503 (an answer)', new SseError(503, 'Service Unavailable', undefined as never), 'application'],
  ['SseError 401', new SseError(401, 'Unauthorized', undefined as never), 'application'],
  ['SseError without status (socket failed)', new SseError(undefined, 'TypeError: fetch failed', undefined as never), 'transport'],
  ['UnauthorizedError (auth provider)', new UnauthorizedError(), 'application'],
  // fetch and sockets
  ['TypeError fetch failed, cause ECONNREFUSED', fetchFailed('ECONNREFUSED'), 'transport'],
  ['TypeError fetch failed, cause ECONNRESET', fetchFailed('ECONNRESET'), 'transport'],
  ['TypeError fetch failed, cause UND_ERR_SOCKET', fetchFailed('UND_ERR_SOCKET'), 'transport'],
  ['TypeError fetch failed, cause UND_ERR_HEADERS_TIMEOUT', fetchFailed('UND_ERR_HEADERS_TIMEOUT'), 'timeout'],
  ['TypeError fetch failed, no cause', new TypeError('fetch failed'), 'transport'],
  ['TypeError Failed to fetch (browsers)', new TypeError('Failed to fetch'), 'transport'],
  ['Error with code EPIPE', withCode(new Error('write EPIPE'), 'EPIPE'), 'transport'],
  ['Error with code ETIMEDOUT', withCode(new Error('connect ETIMEDOUT'), 'ETIMEDOUT'), 'transport'],
  ['Error with code ENOTFOUND', withCode(new Error('getaddrinfo ENOTFOUND'), 'ENOTFOUND'), 'transport'],
  ['Error with code EHOSTUNREACH', withCode(new Error('unreachable'), 'EHOSTUNREACH'), 'transport'],
  ['Error with code UND_ERR_CLOSED', withCode(new Error('closed'), 'UND_ERR_CLOSED'), 'transport'],
  ['Error with code UND_ERR_BODY_TIMEOUT', withCode(new Error('body timeout'), 'UND_ERR_BODY_TIMEOUT'), 'timeout'],
  [
    'AggregateError cause (happy eyeballs)',
    new TypeError('fetch failed', {
      cause: new AggregateError([withCode(new Error('a'), 'ECONNREFUSED'), withCode(new Error('b'), 'ECONNREFUSED')]),
    }),
    'transport',
  ],
  ['Error Not connected', new Error('Not connected'), 'transport'],
  ['SessionLostError', new SessionLostError('abc'), 'transport'],
  // aborts and timeouts
  ['DOMException AbortError', new DOMException('aborted', 'AbortError'), 'timeout'],
  ['DOMException TimeoutError', new DOMException('timed out', 'TimeoutError'), 'timeout'],
  ['AbortSignal.timeout reason', timeoutReason(), 'timeout'],
  ['Error named AbortError', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'timeout'],
  // everything else
  ['plain Error', new Error('tool failed'), 'application'],
  ['TypeError not from fetch', new TypeError('x is not a function'), 'application'],
  ['Error with unrelated code', withCode(new Error('nope'), 'ENOENT'), 'application'],
  ['Error whose cause is a plain Error', new Error('outer', { cause: new Error('inner') }), 'application'],
  ['InvalidRequestError', new InvalidRequestError('gatewayId', 'empty'), 'application'],
  ['CreateFailedError', new CreateFailedError('g', 'create failed', new Error('x')), 'application'],
  ['string', 'fetch failed', 'application'],
  ['number', -32000, 'application'],
  ['undefined', undefined, 'application'],
  ['null', null, 'application'],
  ['plain object with ConnectionClosed-like code only', { code: -32000 }, 'application'],
];

function timeoutReason(): unknown {
  const controller = new AbortController();
  controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  return controller.signal.reason;
}

describe('classifyError', () => {
  it.each(table)('%s', (_label, error, expected) => {
    expect(classifyError(error)).toBe(expected);
  });

  it('is duck-typed: lookalikes from another copy of the SDK classify the same', () => {
    // Another copy of McpError/StreamableHTTPError: different classes, same shape.
    class OtherMcpError extends Error {
      constructor(
        readonly code: number,
        message: string,
      ) {
        super(`MCP error ${code}: ${message}`);
        this.name = 'McpError';
      }
    }
    class OtherStreamableHTTPError extends Error {
      constructor(
        readonly code: number,
        message: string,
      ) {
        super(`Streamable HTTP error: ${message}`);
      }
    }
    expect(classifyError(new OtherMcpError(-32000, 'Connection closed'))).toBe('transport');
    expect(classifyError(new OtherMcpError(-32000, 'Rate limit exceeded'))).toBe('application');
    expect(classifyError(new OtherMcpError(-32601, 'nope'))).toBe('method-not-found');
    expect(classifyError(new OtherStreamableHTTPError(404, 'gone'))).toBe('transport');
    expect(isSessionGone(new OtherStreamableHTTPError(404, 'gone'))).toBe(true);
    expect(classifyError({ name: 'SessionLostError', code: 'ERR_SESSION_LOST', message: 'lost' })).toBe('transport');
  });

  it('survives cyclic cause chains', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classifyError(a)).toBe('application');
  });

  it("classifies a real fetch to a closed port as 'transport'", async () => {
    const port = await closedPort();
    const error = await fetch(`http://127.0.0.1:${port}/mcp`).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(classifyError(error)).toBe('transport');
  });
});

describe('isSessionGone', () => {
  it('is true for HTTP 404 from StreamableHTTPError and SseError', () => {
    expect(isSessionGone(new StreamableHTTPError(404, 'Session not found'))).toBe(true);
    expect(isSessionGone(new SseError(404, 'Not Found', undefined as never))).toBe(true);
  });

  it('looks down the cause chain', () => {
    const wrapped = new Error('call failed', { cause: new StreamableHTTPError(404, 'Session not found') });
    expect(isSessionGone(wrapped)).toBe(true);
  });

  it.each([
    ['StreamableHTTPError 400', new StreamableHTTPError(400, 'Bad Request')],
    ['StreamableHTTPError 503', new StreamableHTTPError(503, 'Unavailable')],
    ['McpError ConnectionClosed', new McpError(ErrorCode.ConnectionClosed, 'closed')],
    ['a 404 to a request without a session id', markNotFoundWithoutSession(new StreamableHTTPError(404, 'Not Found'))],
    ['Error with code 404 but not an HTTP transport error', Object.assign(new Error('x'), { code: 404 })],
    ['fetch failed', fetchFailed('ECONNREFUSED')],
    ['undefined', undefined],
  ])('is false for %s', (_label, error) => {
    expect(isSessionGone(error)).toBe(false);
  });
});

describe('isCapabilityNotAdvertised', () => {
  it('is true only for the SDK client-side refusal', () => {
    expect(isCapabilityNotAdvertised(new Error('Server does not support prompts (required for prompts/list)'))).toBe(true);
    expect(isCapabilityNotAdvertised(new McpError(ErrorCode.MethodNotFound, 'Method not found'))).toBe(false);
    expect(isCapabilityNotAdvertised('Server does not support prompts (required for prompts/list)')).toBe(false);
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
