/** Warm spares end to end: real stdio children, one per downstream session, one kept ready. */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionFactory, UpstreamConnection } from '../../src/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { stdioProcessOf, stdioSessionFactory } from '../../src/stdio/index.js';
import { callText, childPids, fixtureRequest, isDead, useBundledFixture } from './helpers.js';

let disposeFixture: () => void;
beforeAll(() => {
  disposeFixture = useBundledFixture();
});
afterAll(() => disposeFixture());

/** The stdio factory, telling the test about every connection made for a spare. */
function watchedFactory(): { factory: SessionFactory<Client>; nextSpare(): Promise<UpstreamConnection<Client>> } {
  const inner = stdioSessionFactory({ closeStepTimeoutMs: 500 });
  const made: UpstreamConnection<Client>[] = [];
  const waiting: Array<(c: UpstreamConnection<Client>) => void> = [];
  const factory: SessionFactory<Client> = async (request, ctx) => {
    const connection = await inner(request, ctx);
    if (request.downstreamSessionId.startsWith('mcp-upstream-registry.spare.')) {
      const waiter = waiting.shift();
      if (waiter) waiter(connection);
      else made.push(connection);
    }
    return connection;
  };
  const nextSpare = (): Promise<UpstreamConnection<Client>> => {
    const ready = made.shift();
    return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
  };
  return { factory, nextSpare };
}

describe('warm spares with stdioSessionFactory', () => {
  it('hands a new downstream session a spare child that nobody used, keeps one child per session, and closeAll ends them all', async () => {
    const before = childPids();
    const { factory, nextSpare } = watchedFactory();
    const registry = new UpstreamSessionRegistry<Client>({ factory, spares: { counter: 1 } });
    try {
      const A = fixtureRequest('downstream-a');
      const B = fixtureRequest('downstream-b');
      expect(await registry.use(A, (client) => callText(client, 'increment'))).toBe('1');
      const spare = await nextSpare();
      const sparePid = stdioProcessOf(spare.client)?.pid;

      // B starts on the spare: same child, fresh state.
      expect(await registry.use(B, async (client) => stdioProcessOf(client)?.pid)).toBe(sparePid);
      expect(await registry.use(B, (client) => callText(client, 'increment'))).toBe('1');
      expect(await registry.use(A, (client) => callText(client, 'increment'))).toBe('2');
      const pidA = await registry.use(A, async (client) => stdioProcessOf(client)?.pid);
      expect(pidA).not.toBe(sparePid);

      // The replacement is another child, belonging to nobody yet.
      const replacement = await nextSpare();
      const replacementPid = stdioProcessOf(replacement.client)?.pid;
      expect([pidA, sparePid]).not.toContain(replacementPid);
      expect(childPids().filter((pid) => !before.includes(pid))).toHaveLength(3);

      await registry.closeAll();
      for (const pid of [pidA, sparePid, replacementPid]) expect(isDead(pid as number)).toBe(true);
    } finally {
      await registry.closeAll();
    }
  });
});
