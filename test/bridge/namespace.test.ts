import { describe, expect, it } from 'vitest';
import { GatewayNamespace } from '../../src/bridge/namespace.js';
import { InvalidOptionsError } from '../../src/errors.js';

describe('GatewayNamespace', () => {
  it('leaves names unchanged with one gateway in auto mode', () => {
    const ns = new GatewayNamespace(['only']);
    expect(ns.prefixed).toBe(false);
    expect(ns.toDownstream('only', 'increment')).toBe('increment');
    expect(ns.fromDownstream('a__b')).toEqual({ gatewayId: 'only', name: 'a__b' });
  });

  it('prefixes with several gateways and splits at the first separator', () => {
    const ns = new GatewayNamespace(['alpha', 'beta']);
    expect(ns.prefixed).toBe(true);
    expect(ns.toDownstream('alpha', 'note://x')).toBe('alpha__note://x');
    expect(ns.fromDownstream('beta__tool__with__separators')).toEqual({ gatewayId: 'beta', name: 'tool__with__separators' });
    expect(ns.fromDownstream('gamma__tool')).toBeUndefined();
    expect(ns.fromDownstream('tool')).toBeUndefined();
    expect(ns.fromDownstream('__tool')).toBeUndefined();
  });

  it('prefixes a single gateway in always mode, with a custom separator', () => {
    const ns = new GatewayNamespace(['solo'], { mode: 'always', separator: '.' });
    expect(ns.toDownstream('solo', 'get')).toBe('solo.get');
    expect(ns.fromDownstream('solo.get')).toEqual({ gatewayId: 'solo', name: 'get' });
  });

  it("merges names unchanged in 'none' mode; several gateways' names have no gateway of their own", () => {
    const merged = new GatewayNamespace(['a', 'b__c'], { mode: 'none' });
    expect(merged.prefixed).toBe(false);
    expect(merged.merged).toBe(true);
    expect(merged.toDownstream('b__c', 'tool')).toBe('tool');
    expect(merged.fromDownstream('a__tool')).toBeUndefined();
    const single = new GatewayNamespace(['a'], { mode: 'none' });
    expect(single.merged).toBe(false);
    expect(single.fromDownstream('tool')).toEqual({ gatewayId: 'a', name: 'tool' });
  });

  it('round-trips every name of every gateway', () => {
    const ns = new GatewayNamespace(['a', 'b-1', 'c.d']);
    for (const gatewayId of ns.gatewayIds) {
      for (const name of ['x', 'with__sep', '', 'file:///tmp/a b']) {
        expect(ns.fromDownstream(ns.toDownstream(gatewayId, name))).toEqual({ gatewayId, name });
      }
    }
  });

  it('rejects a gateway id containing the separator, an empty separator and an unknown mode', () => {
    expect(() => new GatewayNamespace(['a__b', 'c'])).toThrow(InvalidOptionsError);
    expect(() => new GatewayNamespace(['a'], { separator: '' })).toThrow(/namespaceSeparator/);
    expect(() => new GatewayNamespace(['a'], { mode: 'never' as never })).toThrow(/namespace/);
    // One gateway, not prefixed: its id may contain the separator.
    expect(new GatewayNamespace(['a__b']).prefixed).toBe(false);
  });
});
