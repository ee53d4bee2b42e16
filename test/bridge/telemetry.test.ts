/**
 * The bridge's `telemetry` option: each forwarded request in one operation
 * span (method, target, outcome), the span's trace context in the upstream
 * `_meta`, and without telemetry the caller's `_meta` trace context passed on
 * as it came. Real SDK client (in memory) and a real SDK upstream on 127.0.0.1.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { hostMcpServer } from '../../examples/shared/mcp-host.js';
import { BridgeHub } from '../../src/bridge/hub.js';
import { InvalidOptionsError } from '../../src/errors.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import type { ProxyTelemetry } from '../../src/telemetry.js';
import { recordingTelemetry } from '../fixtures/recording-telemetry.js';

const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
/** What the recording fixture's `inject` writes. */
const INJECTED = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('SessionBridge telemetry and trace context', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(telemetry?: ProxyTelemetry) {
    const up = await hostMcpServer(() => {
      const server = new McpServer({ name: 'meta-upstream', version: '1.0.0' });
      server.registerTool('meta', {}, async (extra) => ({ content: [{ type: 'text' as const, text: JSON.stringify(extra._meta ?? {}) }] }));
      server.registerTool('fail', {}, async () => ({ isError: true, content: [{ type: 'text' as const, text: 'no' }] }));
      return server;
    });
    const hub = new BridgeHub();
    const registry = new UpstreamSessionRegistry<Client>({ factory: mcpSessionFactory({ configureClient: hub.configureClient }) });
    cleanups.push(() => up.close(), () => registry.closeAll(), () => hub.close());
    const bridge = hub.createBridge({ registry, downstreamSessionId: 'ds-1', gateways: [{ id: 'meta', url: up.url }], ...(telemetry && { telemetry }) });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await bridge.server.connect(serverSide);
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(clientSide);
    cleanups.push(() => client.close(), () => bridge.close());
    const metaOf = async (meta?: Record<string, unknown>) => {
      const result = (await client.callTool({ name: 'meta', arguments: {}, ...(meta && { _meta: meta }) })) as { content: { text: string }[] };
      return JSON.parse(result.content[0]?.text ?? '{}') as Record<string, unknown>;
    };
    return { client, metaOf };
  }

  it('without telemetry, the caller trace context in _meta reaches the upstream unchanged, other keys too', async () => {
    const { metaOf } = await setup();
    expect(await metaOf({ traceparent: CALLER, tracestate: 'k=v', other: 1 })).toEqual({ traceparent: CALLER, tracestate: 'k=v', other: 1 });
  });

  it('with telemetry, each forwarded request is one operation span whose context replaces the caller’s in _meta', async () => {
    const rec = recordingTelemetry();
    const { client, metaOf } = await setup(rec.telemetry);
    expect(await metaOf({ traceparent: CALLER, other: 1 })).toEqual({ traceparent: INJECTED, other: 1 });
    await client.callTool({ name: 'fail', arguments: {} });
    await client.listTools();
    const ops = rec.calls.filter((c) => c.name.startsWith('operationStart'));
    expect(ops.map((c) => [c.name, c.detail ?? c.outcome])).toEqual([
      ['operationStart', 'tools/call'],
      ['operationStart:end', 'ok'],
      ['operationStart', 'tools/call'],
      ['operationStart:end', 'tool_error'],
      ['operationStart', 'tools/list'],
      ['operationStart:end', 'ok'],
    ]);
    expect(rec.unended()).toEqual([]);
    expect(rec.endedTwice()).toEqual([]);
  });

  it('passes the target and the downstream _meta to operationStart', async () => {
    const seen: unknown[] = [];
    const rec = recordingTelemetry();
    const telemetry: ProxyTelemetry = {
      ...rec.telemetry,
      operationStart: (op) => {
        seen.push({ method: op.method, target: op.target, gatewayId: op.gatewayId, meta: op.downstreamMeta });
        return rec.telemetry.operationStart(op);
      },
    };
    const { metaOf } = await setup(telemetry);
    await metaOf({ traceparent: CALLER });
    expect(seen).toEqual([{ method: 'tools/call', target: 'meta', gatewayId: 'meta', meta: { traceparent: CALLER } }]);
  });

  it('rejects a telemetry option without operationStart', () => {
    const hub = new BridgeHub();
    const registry = new UpstreamSessionRegistry<Client>();
    cleanups.push(() => registry.closeAll(), () => hub.close());
    expect(() =>
      hub.createBridge({ registry, downstreamSessionId: 'x', gateways: [{ id: 'g', url: 'http://127.0.0.1:1/mcp' }], telemetry: {} as never }),
    ).toThrow(InvalidOptionsError);
  });
});
