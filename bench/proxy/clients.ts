/**
 * Downstream SDK clients that drive load through a proxy (or straight to the
 * upstream): many sessions, each calling `increment` one call after another.
 *
 * @module
 */

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { closedLoop } from '../harness.js';

/** A connected downstream session. */
export interface Session {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  /** Calls of `increment` made on it, to check the upstream state at the end. */
  calls: number;
}

/** Sessions opened at once while connecting many: enough to be quick, few enough not to time out under load. */
const CONNECT_BATCH = 25;

/** Connects one SDK client (initialize, initialized, standalone GET stream). */
export async function connectSession(url: string): Promise<Session> {
  const client = new Client({ name: 'bench-downstream', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, transport, calls: 0 };
}

/** Connects `count` sessions, a batch at a time. */
export async function connectSessions(url: string, count: number): Promise<Session[]> {
  const sessions: Session[] = [];
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    sessions.push(...(await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, () => connectSession(url)))));
  }
  return sessions;
}

/** One `increment` call on the session. */
export async function increment(session: Session): Promise<void> {
  await session.client.callTool({ name: 'increment' });
  session.calls++;
}

/** The counter the session's upstream holds (a `get` call). */
export async function counterOf(session: Session): Promise<number> {
  const result = await session.client.callTool({ name: 'get' });
  const content = (result as { content?: Array<{ text?: string }> }).content;
  return Number(content?.[0]?.text);
}

/** Ends the sessions (DELETE, then close), a batch at a time; errors are ignored (the peer may be gone). */
export async function closeSessions(sessions: readonly Session[]): Promise<void> {
  for (let i = 0; i < sessions.length; i += CONNECT_BATCH) {
    await Promise.all(
      sessions.slice(i, i + CONNECT_BATCH).map(async ({ client, transport }) => {
        await transport.terminateSession().catch(() => {});
        await client.close().catch(() => {});
      }),
    );
  }
}

/** A closed-loop round: every session calls `increment` one call after another until `deadline`; resolves with the calls completed. */
export function closedLoopCalls(sessions: readonly Session[], deadline: number): Promise<number> {
  return closedLoop(sessions, deadline, increment);
}
