/**
 * `closeAll({ handover: true })`: a worker of many shuts down without ending
 * its upstream sessions. Calls in flight finish (bounded), every connection is
 * detached (no DELETE, records kept), and ownership goes back at once through
 * the affinity's close, never per-session `release` (which deletes records).
 */
import { describe, expect, it } from 'vitest';
import type { Affinity } from '../../src/affinity.js';
import { InvalidRequestError, RegistryClosedError } from '../../src/errors.js';
import type { SessionFactory } from '../../src/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { type FakeClient, ManualClock, createFakeFactory } from '../../src/testing/index.js';
import { record, req, settle } from './helpers.js';

/** An affinity that owns everything and writes down what the registry asked of it, in order. */
function recordingAffinity(log: string[]): Affinity {
  return {
    workerId: 'w1',
    claim: async (id) => {
      log.push(`claim ${id}`);
      return { owned: true };
    },
    release: async (id) => {
      log.push(`release ${id}`);
    },
    close: async () => {
      log.push('affinity closed');
    },
  };
}

function setupHandover(closeTimeoutMs = 1_000) {
  const clock = new ManualClock();
  const fake = createFakeFactory({ clock });
  const log: string[] = [];
  // Records how each connection is closed: detached (kept upstream) or ended.
  const factory: SessionFactory<FakeClient> = async (request, ctx) => {
    const connection = await fake.factory(request, ctx);
    return {
      client: connection.client,
      close: (closeCtx) => {
        log.push(`${closeCtx.detach === true ? 'detach' : 'end'} ${request.downstreamSessionId}`);
        return connection.close(closeCtx);
      },
    };
  };
  const registry = new UpstreamSessionRegistry<FakeClient>({ factory, clock, closeTimeoutMs, affinity: recordingAffinity(log) });
  return { clock, fake, registry, log };
}

describe('closeAll({ handover: true })', () => {
  it('waits for calls in flight, detaches every session, then gives ownership back through the affinity only', async () => {
    const { registry, log } = setupHandover();
    const retired = record(registry, 'session:retired');
    (await registry.acquire(req('a'))).release();
    const busy = await registry.acquire(req('b'));
    log.length = 0;

    const closing = registry.closeAll({ handover: true });
    await expect(registry.acquire(req('c'))).rejects.toBeInstanceOf(RegistryClosedError);
    await new Promise((resolve) => setImmediate(resolve));
    // The idle session is detached at once; the busy one waits for its call.
    expect(log).toEqual(['detach a']);
    busy.release();
    await closing;
    expect(log).toEqual(['detach a', 'detach b', 'affinity closed']);
    expect(retired.map((e) => e.reason)).toEqual(['handover', 'handover']);
    expect(registry.snapshot().sessions).toHaveLength(0);
    await expect(registry.acquire(req('a'))).rejects.toBeInstanceOf(RegistryClosedError);
  });

  it('is bounded: a call that never ends is cut off after closeTimeoutMs', async () => {
    const { registry, clock, log } = setupHandover(1_000);
    await registry.acquire(req('a')); // never released
    log.length = 0;
    let done = false;
    const closing = registry.closeAll({ handover: true }).then(() => {
      done = true;
    });
    await clock.advance(999);
    expect(done).toBe(false);
    expect(log).toEqual([]);
    await clock.advance(1);
    await closing;
    expect(log).toEqual(['detach a', 'affinity closed']);
  });

  it('plain closeAll() still ends sessions and releases each one', async () => {
    const { registry, log } = setupHandover();
    (await registry.acquire(req('a'))).release();
    log.length = 0;
    await registry.closeAll();
    expect(log).toContain('end a');
    expect(log).toContain('release a');
    expect(log).not.toContain('detach a');
  });

  it('ends the warm spares (they belong to no session and have no record), and hands the sessions over', async () => {
    const clock = new ManualClock();
    const fake = createFakeFactory({ clock });
    const registry = new UpstreamSessionRegistry<FakeClient>({ factory: fake.factory, clock, spares: { g1: 2 } });
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    const spares = fake.connections.filter((c) => c.request.downstreamSessionId.startsWith('mcp-upstream-registry.spare.'));
    expect(spares).toHaveLength(2);
    await registry.closeAll({ handover: true });
    expect(spares.map((c) => c.closed)).toEqual([true, true]);
    expect(fake.live).toBe(0);
  });

  it('rejects malformed options synchronously and stays open', async () => {
    const { registry } = setupHandover();
    for (const bad of [null, 'handover', { handover: 'yes' }, { handOver: true }]) {
      expect(() => registry.closeAll(bad as never)).toThrow(InvalidRequestError);
    }
    expect(registry.closed).toBe(false);
    const lease = await settle(registry.acquire(req('a')));
    expect(lease.ok).toBe(true);
    if (lease.ok) lease.value.release();
    await registry.closeAll({ handover: true });
    expect(registry.closed).toBe(true);
  });
});
