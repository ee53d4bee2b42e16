import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, InvalidRequestError } from '../src/errors.js';
import type { FactoryContext, SessionFactory } from '../src/factory.js';
import { factoryByTransport } from '../src/factory-by-transport.js';
import { SessionCreateRequest, type TransportType } from '../src/request.js';

const ctx: FactoryContext = { signal: new AbortController().signal, onBroken: () => {} };

/** A fake factory whose connections say which factory made them. */
function fake(name: string, seen: string[]): SessionFactory<unknown> {
  return async (request) => {
    seen.push(`${name}:${request.transport}:${request.downstreamSessionId}`);
    return { client: { madeBy: name }, close: async () => {} };
  };
}

function request(transport: TransportType): SessionCreateRequest {
  return SessionCreateRequest.from(
    transport === 'stdio'
      ? { downstreamSessionId: 'd1', gatewayId: 'g', transport, stdio: { command: 'server' } }
      : { downstreamSessionId: 'd1', gatewayId: 'g', transport, url: 'http://127.0.0.1:1/mcp' },
  );
}

describe('factoryByTransport', () => {
  it('hands each request to the factory of its transport', async () => {
    const seen: string[] = [];
    const http = fake('http', seen);
    const factory = factoryByTransport({ 'streamable-http': http, sse: http, stdio: fake('stdio', seen) });

    const made = await Promise.all(
      (['streamable-http', 'sse', 'stdio'] as const).map((t) => factory(request(t), ctx).then((c) => c.client)),
    );

    expect(made).toEqual([{ madeBy: 'http' }, { madeBy: 'http' }, { madeBy: 'stdio' }]);
    expect(seen).toEqual(['http:streamable-http:d1', 'http:sse:d1', 'stdio:stdio:d1']);
  });

  it('passes the context through unchanged', async () => {
    let received: FactoryContext | undefined;
    const factory = factoryByTransport<unknown>({
      stdio: async (_request, context) => {
        received = context;
        return { client: {}, close: async () => {} };
      },
    });
    await factory(request('stdio'), ctx);
    expect(received).toBe(ctx);
  });

  it('passes a factory rejection through unchanged', async () => {
    const failure = new Error('spawn failed');
    const factory = factoryByTransport<unknown>({ stdio: () => Promise.reject(failure) });
    await expect(factory(request('stdio'), ctx)).rejects.toBe(failure);
  });

  it('rejects a transport without a factory with InvalidRequestError, calling no factory', async () => {
    const seen: string[] = [];
    const factory = factoryByTransport({ 'streamable-http': fake('http', seen) });

    const error = await factory(request('stdio'), ctx).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).field).toBe('transport');
    expect((error as Error).message).toContain("'stdio'");
    expect((error as Error).message).toContain("'streamable-http'");
    expect(seen).toEqual([]);
  });

  it('rejects unknown transports and non-function factories up front', () => {
    expect(() => factoryByTransport({ http: fake('x', []) } as never)).toThrow(InvalidOptionsError);
    expect(() => factoryByTransport({ stdio: 'nope' } as never)).toThrow(InvalidOptionsError);
    expect(() => factoryByTransport(null as never)).toThrow(InvalidOptionsError);
  });
});
