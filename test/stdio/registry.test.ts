import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RegistryEvents } from '../../src/events.js';
import { factoryByTransport } from '../../src/factory-by-transport.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import type { SessionCreateRequest } from '../../src/request.js';
import { stdioProcessOf, stdioSessionFactory } from '../../src/stdio/index.js';
import type { FakeClient } from '../../src/testing/fake-client.js';
import { createFakeFactory } from '../../src/testing/fake-factory.js';
import {
  callText,
  childPids,
  expectNoSuchProcess,
  fixtureCommand,
  fixtureRequest,
  useBundledFixture,
} from './helpers.js';

let disposeFixture: () => void;
beforeAll(() => {
  disposeFixture = useBundledFixture();
});
afterAll(() => disposeFixture());

let registry: UpstreamSessionRegistry<Client>;
let baselineChildren: number[] = [];

function newChildren(): number[] {
  return childPids().filter((pid) => !baselineChildren.includes(pid));
}

function record<K extends keyof RegistryEvents>(type: K): Array<RegistryEvents[K]> {
  const seen: Array<RegistryEvents[K]> = [];
  registry.on(type, (event) => seen.push(event));
  return seen;
}

/** Resolves with the next event of `type`. */
function next<K extends keyof RegistryEvents>(type: K): Promise<RegistryEvents[K]> {
  return new Promise((resolve) => {
    const handler = (event: RegistryEvents[K]): void => {
      registry.off(type, handler);
      resolve(event);
    };
    registry.on(type, handler);
  });
}

// Built per test: the bundled fixture only exists from beforeAll on.
let A: SessionCreateRequest;
let B: SessionCreateRequest;

const pidIn = (client: Client): number => stdioProcessOf(client)!.pid;

beforeEach(() => {
  A = fixtureRequest('downstream-a');
  B = fixtureRequest('downstream-b');
  baselineChildren = childPids();
  registry = new UpstreamSessionRegistry<Client>({ factory: stdioSessionFactory({ closeStepTimeoutMs: 500 }) });
});

afterEach(async () => {
  await registry.closeAll();
  expect(newChildren()).toEqual([]);
});

describe('UpstreamSessionRegistry with stdioSessionFactory', () => {
  it('keeps per-process state apart: A counts 5, B counts 3, two children in all', async () => {
    const created = record('session:created');
    const increment = (client: Client) => callText(client, 'increment');

    for (let i = 0; i < 5; i++) await registry.use(A, increment);
    for (let i = 0; i < 3; i++) await registry.use(B, increment);

    expect(await registry.use(A, (client) => callText(client, 'get'))).toBe('5');
    expect(await registry.use(B, (client) => callText(client, 'get'))).toBe('3');
    expect(created).toHaveLength(2);
    expect(newChildren()).toHaveLength(2);

    // Ten more calls on A: the same child serves them all.
    const pidA = await registry.use(A, async (client) => pidIn(client));
    for (let i = 0; i < 10; i++) await registry.use(A, increment);
    expect(await registry.use(A, (client) => callText(client, 'get'))).toBe('15');
    expect(await registry.use(A, async (client) => pidIn(client))).toBe(pidA);
    expect(created).toHaveLength(2);
  });

  it('evictSession kills the child; the next call starts a fresh one from 0', async () => {
    await registry.use(A, (client) => callText(client, 'increment'));
    const pid = await registry.use(A, async (client) => pidIn(client));

    expect(await registry.evictSession('downstream-a')).toBe(1);

    expectNoSuchProcess(pid);
    expect(await registry.use(A, (client) => callText(client, 'get'))).toBe('0');
    expect(await registry.use(A, async (client) => pidIn(client))).not.toBe(pid);
  });

  it('retires a crashed child and rebuilds on the next acquire', async () => {
    await registry.use(A, (client) => callText(client, 'increment'));
    const pid = await registry.use(A, async (client) => pidIn(client));
    const retired = next('session:retired');

    process.kill(pid, 'SIGKILL');

    // The registry hears of it through onBroken, not through a failed call.
    expect((await retired).reason).toBe('lost');
    expect(registry.size).toBe(0);
    expect(await registry.use(A, (client) => callText(client, 'get'))).toBe('0');
  });

  it('rebuilds when the command line changes, and ends the old child', async () => {
    const pid = await registry.use(A, async (client) => pidIn(client));
    const changed = fixtureRequest('downstream-a', { env: { SOME_SETTING: 'v2' } });
    const oldClosed = next('session:closed');

    const newPid = await registry.use(changed, async (client) => pidIn(client));

    expect(newPid).not.toBe(pid);
    expect((await oldClosed).forced).toBe(false);
    expectNoSuchProcess(pid);
    expect(newChildren()).toEqual([newPid]);
  });

  it('closeAll ends every child', async () => {
    const pids = await Promise.all(
      ['d1', 'd2', 'd3'].map((id) => registry.use(fixtureRequest(id), async (client) => pidIn(client))),
    );

    await registry.closeAll();

    for (const pid of pids) expectNoSuchProcess(pid);
  });

  it('serves HTTP and stdio gateways from one registry through factoryByTransport', async () => {
    const fake = createFakeFactory();
    const mixed = new UpstreamSessionRegistry<Client | FakeClient>({
      factory: factoryByTransport<Client | FakeClient>({
        'streamable-http': fake.factory,
        stdio: stdioSessionFactory(),
      }),
    });
    try {
      const http = await mixed.use(
        { downstreamSessionId: 'd1', gatewayId: 'remote', url: 'http://127.0.0.1:1/mcp' },
        async (client) => client,
      );
      const local = await mixed.use(
        { downstreamSessionId: 'd1', gatewayId: 'local', transport: 'stdio', stdio: fixtureCommand() },
        async (client) => stdioProcessOf(client)?.pid,
      );

      expect(http).toBe(fake.connections[0]?.client);
      expect(local).toBeGreaterThan(0);
      expect(mixed.size).toBe(2);
    } finally {
      await mixed.closeAll();
    }
  });
});
