/** What a bridge announces downstream, from what its upstreams announced. */
import { describe, expect, it } from 'vitest';
import { type UpstreamIdentity, downstreamIdentity, mergeInstructions, unionCapabilities } from '../../src/bridge/upstream-identity.js';
import { BridgeHub } from '../../src/bridge/hub.js';
import { InvalidOptionsError } from '../../src/errors.js';

const defaults = { serverInfo: { name: 'bridge', version: '0' }, capabilities: { tools: {} } };
const none = { serverInfo: undefined, capabilities: undefined, instructions: undefined };

describe('upstream identity', () => {
  it('unions capabilities: a flag is on if any upstream has it; what none offers is absent; unforwarded ones dropped', () => {
    const union = unionCapabilities([
      { tools: { listChanged: false }, resources: { subscribe: true }, experimental: { x: {} } },
      { tools: { listChanged: true }, resources: { listChanged: true }, logging: {} },
      undefined,
    ]);
    expect(union).toEqual({ tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, logging: {} });
    expect(unionCapabilities([undefined])).toBeUndefined();
  });

  it('merges instructions with a heading per gateway, and keeps one gateway\'s as they are', () => {
    expect(mergeInstructions(new Map([['a', 'Use A.']]))).toBe('Use A.');
    expect(mergeInstructions(new Map<string, string | undefined>([['a', 'Use A.'], ['b', undefined], ['c', 'Use C.']]))).toBe('## a\n\nUse A.\n\n## c\n\nUse C.');
    expect(mergeInstructions(new Map<string, string | undefined>([['a', undefined], ['b', '']]))).toBeUndefined();
  });

  it('lends one gateway\'s serverInfo, never several gateways\'; options override; unknown upstreams give the defaults', () => {
    const a: UpstreamIdentity = { serverInfo: { name: 'a', version: '1' }, capabilities: { prompts: {} }, instructions: 'A' };
    const b: UpstreamIdentity = { serverInfo: { name: 'b', version: '2' }, capabilities: { tools: {} }, instructions: undefined };
    expect(downstreamIdentity(new Map([['a', a]]), none, defaults)).toEqual({ serverInfo: a.serverInfo, capabilities: { prompts: {} }, instructions: 'A' });
    expect(downstreamIdentity(new Map<string, UpstreamIdentity>([['a', a], ['b', b]]), none, defaults).serverInfo).toEqual(defaults.serverInfo);
    expect(downstreamIdentity(new Map<string, UpstreamIdentity | undefined>([['a', undefined]]), none, defaults)).toEqual({ ...defaults, instructions: undefined });
    const fixed = { serverInfo: { name: 'mine', version: '9' }, capabilities: { logging: {} }, instructions: 'Mine' };
    expect(downstreamIdentity(new Map([['a', a]]), fixed, defaults)).toEqual(fixed);
  });

  it("passes one gateway's tasks capability on, never several gateways'", () => {
    const tasks = { list: {}, cancel: {}, requests: { tools: { call: {} } } };
    const a: UpstreamIdentity = { serverInfo: undefined, capabilities: { tools: {}, tasks }, instructions: undefined };
    const b: UpstreamIdentity = { serverInfo: undefined, capabilities: { tools: {}, tasks }, instructions: undefined };
    expect(downstreamIdentity(new Map([['a', a]]), none, defaults).capabilities).toEqual({ tools: {}, tasks });
    expect(downstreamIdentity(new Map([['a', a], ['b', b]]), none, defaults).capabilities).toEqual({ tools: {} });
  });

  it('rejects malformed identity options', () => {
    const hub = new BridgeHub();
    const registry = { use: async () => undefined, evictSession: async () => 0, on: () => {}, off: () => {} } as never;
    const gateways = [{ id: 'a', url: 'http://127.0.0.1:1/mcp' }];
    expect(() => hub.createBridge({ registry, downstreamSessionId: 's', gateways, forwardClientInfo: 'yes' as never })).toThrow(InvalidOptionsError);
    expect(() => hub.createBridge({ registry, downstreamSessionId: 's', gateways, partialListRetryMs: 0 })).toThrow(/partialListRetryMs/);
    expect(hub.size).toBe(0);
  });
});
