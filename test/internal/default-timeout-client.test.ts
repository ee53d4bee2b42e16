import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DefaultTimeoutClient } from '../../src/internal/default-timeout-client.js';

const INFO = { name: 't', version: '1' };

/** The options each request reaches the SDK's own `request` with. */
function recordTimeouts(): Array<number | undefined> {
  const seen: Array<number | undefined> = [];
  vi.spyOn(Client.prototype, 'request').mockImplementation(async (_request, _schema, options) => {
    seen.push(options?.timeout);
    return {} as never;
  });
  return seen;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('DefaultTimeoutClient (the one default-timeout design of both factories)', () => {
  it('gives requests without a timeout the default, keeps explicit ones, and leaves initialize to the connect deadline', async () => {
    const seen = recordTimeouts();
    const client = new DefaultTimeoutClient(INFO, {}, 250);
    await client.request({ method: 'ping' }, EmptyResultSchema);
    await client.request({ method: 'ping' }, EmptyResultSchema, { timeout: 9 });
    await client.request({ method: 'initialize', params: { protocolVersion: '1', capabilities: {}, clientInfo: INFO } }, EmptyResultSchema);
    expect(seen).toEqual([250, 9, undefined]);
    expect(client).toBeInstanceOf(Client);
  });

  it('without a default it is a plain Client', async () => {
    const seen = recordTimeouts();
    await new DefaultTimeoutClient(INFO, {}, undefined).request({ method: 'ping' }, EmptyResultSchema);
    expect(seen).toEqual([undefined]);
  });
});
