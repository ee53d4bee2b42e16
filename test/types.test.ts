/**
 * Type contract tests: `npm run typecheck` checks the `expectTypeOf` lines (a
 * wrong type is a compile error); vitest runs them as no-ops. They pin the
 * registry's generics, `RegistryEvents` and `SessionLease` as users see them.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type CapacityError,
  type RegistryEvents,
  type RetireReason,
  type SessionInfo,
  type SessionLease,
  type SessionRetiredError,
  UpstreamSessionRegistry,
} from '../src/index.js';
import { type FakeClient, createFakeFactory } from '../src/testing/index.js';

describe('registry generics', () => {
  it('defaults the client type to the SDK Client', () => {
    expectTypeOf<UpstreamSessionRegistry>().toEqualTypeOf<UpstreamSessionRegistry<Client>>();
    expectTypeOf<UpstreamSessionRegistry['acquire']>().returns.resolves.toEqualTypeOf<SessionLease<Client>>();
  });

  it('infers the client type from the factory', () => {
    const registry = new UpstreamSessionRegistry({ factory: createFakeFactory().factory });
    expectTypeOf(registry).toEqualTypeOf<UpstreamSessionRegistry<FakeClient>>();
    expectTypeOf(registry.acquire).returns.resolves.toEqualTypeOf<SessionLease<FakeClient>>();
    expectTypeOf(registry.use<number>).parameter(1).toEqualTypeOf<(client: FakeClient, info: SessionInfo) => Promise<number>>();
    expectTypeOf(registry.use<string>).returns.resolves.toBeString();
    expectTypeOf(registry.size).toBeNumber();
  });
});

describe('SessionLease', () => {
  it('has the client, the info, release and async dispose', () => {
    expectTypeOf<SessionLease<FakeClient>['client']>().toEqualTypeOf<FakeClient>();
    expectTypeOf<SessionLease<FakeClient>['info']>().toEqualTypeOf<SessionInfo>();
    expectTypeOf<SessionLease<FakeClient>['release']>().toEqualTypeOf<(error?: unknown) => void>();
    expectTypeOf<SessionLease<FakeClient>[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>();
  });
});

describe('RegistryEvents', () => {
  it('names exactly these events', () => {
    expectTypeOf<keyof RegistryEvents>().toEqualTypeOf<
      | 'session:created'
      | 'session:reused'
      | 'session:probed'
      | 'session:retired'
      | 'session:closed'
      | 'session:orphaned'
      | 'session:create-failed'
      | 'session:lost'
      | 'gateway:backoff'
    >();
  });

  it('types each handler by its event', () => {
    const registry = new UpstreamSessionRegistry({ factory: createFakeFactory().factory });
    registry.on('session:retired', (event) => expectTypeOf(event.reason).toEqualTypeOf<RetireReason>());
    registry.on('session:closed', (event) => expectTypeOf(event.forced).toBeBoolean());
    // @ts-expect-error: not an event
    registry.on('session:unknown', () => {});
  });

  it('retire reasons are the contract list', () => {
    expectTypeOf<RetireReason>().toEqualTypeOf<
      | 'downstream-evicted'
      | 'gateway-evicted'
      | 'config-changed'
      | 'probe-failed'
      | 'transport-error'
      | 'idle-expired'
      | 'capacity'
      | 'lost'
      | 'registry-closed'
      | 'ownership-lost'
      | 'handover'
    >();
  });
});

describe('error fields', () => {
  it('types SessionRetiredError.reason and CapacityError.gatewayId', () => {
    expectTypeOf<SessionRetiredError['reason']>().toEqualTypeOf<RetireReason>();
    expectTypeOf<CapacityError['gatewayId']>().toEqualTypeOf<string | undefined>();
  });
});
