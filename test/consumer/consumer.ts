// Compiled by test/consumer/run.mjs in a fresh project that installed the
// packed tarball, under every module resolution mode and TypeScript version.
// Root and /testing only: no @types/node here, as in a Workers or browser project.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CapacityError,
  type RegistryEvents,
  SessionCreateRequest,
  type SessionLease,
  type SessionRetiredEvent,
  UpstreamSessionRegistry,
  mcpSessionFactory,
} from 'mcp-upstream-registry';
import { ManualClock, createFakeFactory } from 'mcp-upstream-registry/testing';

// The consumer's own SDK Client must be the one the registry's types name.
const factory = mcpSessionFactory({ configureClient: (client: Client) => void client });
const registry: UpstreamSessionRegistry<Client> = new UpstreamSessionRegistry({ factory });
const request = SessionCreateRequest.from({ downstreamSessionId: 'a', gatewayId: 'g', url: 'http://127.0.0.1:1/mcp' });
registry.on('session:retired', (event: SessionRetiredEvent) => void event.reason);
type Created = RegistryEvents['session:created'];
export async function leaseOnce(): Promise<Created | undefined> {
  const lease: SessionLease<Client> = await registry.acquire(request);
  try {
    await lease.client.ping();
  } finally {
    await lease[Symbol.asyncDispose]();
  }
  return undefined;
}
export function capacityGateway(error: unknown): string | undefined {
  return error instanceof CapacityError ? error.gatewayId : undefined;
}
export const clock = new ManualClock();
export const fake = createFakeFactory();
