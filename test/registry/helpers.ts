import { afterEach } from 'vitest';
import type { RegistryOptions } from '../../src/options.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { SessionCreateRequest, type SessionCreateRequestInit } from '../../src/request.js';
import { type FakeClient, type FakeFactoryOptions, ManualClock, createFakeFactory } from '../../src/testing/index.js';

const open: { registry: UpstreamSessionRegistry<FakeClient>; clock: ManualClock }[] = [];

afterEach(async () => {
  for (const { registry, clock } of open.splice(0)) {
    let done = false;
    const closing = registry.closeAll().then(() => {
      done = true;
    });
    // Closes may wait on the manual clock (slow or hung closes): drive it.
    for (let i = 0; i < 100 && !done; i++) await clock.advance(1000);
    await closing;
  }
});

/** A request for downstream session `ds` on gateway `gw`. */
export function req(ds: string, gw = 'g1', extra: Partial<SessionCreateRequestInit> = {}): SessionCreateRequest {
  return SessionCreateRequest.from({ downstreamSessionId: ds, gatewayId: gw, url: 'http://upstream.test/mcp', ...extra });
}

/** A registry on a fake factory and a manual clock; closed after each test. */
export function setup(
  options: Omit<RegistryOptions<FakeClient>, 'factory' | 'clock'> = {},
  fakeOptions: Omit<FakeFactoryOptions, 'clock'> = {},
) {
  const clock = new ManualClock();
  const fake = createFakeFactory({ clock, ...fakeOptions });
  const registry = new UpstreamSessionRegistry<FakeClient>({ factory: fake.factory, clock, ...options });
  open.push({ registry, clock });
  return { clock, fake, registry };
}

/** Collects the events of one type. */
export function record<K extends keyof import('../../src/events.js').RegistryEvents>(
  registry: UpstreamSessionRegistry<FakeClient>,
  type: K,
): import('../../src/events.js').RegistryEvents[K][] {
  const seen: import('../../src/events.js').RegistryEvents[K][] = [];
  registry.on(type, (e) => seen.push(e));
  return seen;
}

/** Settles a promise without letting it become an unhandled rejection. */
export function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}
