/**
 * `npm run demo`: two MCP clients, one proxy, one stateful upstream, and the
 * proof that each client gets its own upstream session. Nothing external:
 * everything runs in this process on 127.0.0.1. Exits 0 when every check
 * passes, 1 otherwise.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RegistrySnapshot, SessionClosedEvent } from 'mcp-upstream-registry';
import { startProxy } from './express/proxy.js';
import { startCounterUpstream } from './shared/counter-upstream.js';
import { sessionTag } from './shared/hardening.js';

const TIMEOUT_MS = 30_000;
/** The admin endpoint needs a token (MCP_ADMIN_TOKEN for the command-line proxies). */
const ADMIN_TOKEN = 'demo-admin-token';
let failures = 0;

function say(text = ''): void {
  console.log(text);
}

function check(ok: boolean, text: string): void {
  if (!ok) failures++;
  say(`   ${ok ? '✓' : '✗'} ${text}`);
}

function short(id: string | undefined): string {
  return id === undefined ? '?' : `${id.slice(0, 8)}…`;
}

async function connect(url: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'demo-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, transport };
}

async function call(client: Client, tool: 'increment' | 'get'): Promise<number> {
  const result = await client.callTool({ name: tool });
  const first = (result.content as { type: string; text?: string }[])[0];
  return Number(first?.text);
}

function printSnapshot(snapshot: RegistrySnapshot, names: Map<string, string>): void {
  say(`   live upstream sessions: ${snapshot.live}, created so far: ${snapshot.totals.created}, reused: ${snapshot.totals.reused}`);
  for (const s of snapshot.sessions) {
    const who = names.get(s.downstreamSessionId) ?? short(s.downstreamSessionId);
    say(`   - downstream session ${who} → gateway "${s.gatewayId}", upstream connection #${s.connectionId}, used ${s.useCount} times`);
  }
  say('   As JSON (one line per upstream session):');
  for (const s of snapshot.sessions) say(`   ${JSON.stringify(s)}`);
}

async function main(): Promise<void> {
  say('mcp-upstream-registry demo');
  say('==========================');
  say('A proxy serves many MCP clients. This library gives each client session its own');
  say('upstream session, so a stateful upstream server never mixes up their state.');
  say();

  const upstream = await startCounterUpstream();
  say(`1. Started a stateful MCP server (the "upstream") at ${upstream.url}`);
  say('   Each session on it has its own counter, starting at 0.');
  const proxy = await startProxy({ gateways: [{ id: 'counter', url: upstream.url }], adminToken: ADMIN_TOKEN });
  say(`2. Started the Express example proxy in front of it at ${proxy.url}`);

  const a = await connect(proxy.url);
  const upstreamOfA = upstream.openSessions()[0];
  const b = await connect(proxy.url);
  // Read now: the client forgets its session id once the session ends.
  const idA = a.transport.sessionId as string;
  const idB = b.transport.sessionId as string;
  // The admin snapshot shows a short tag of each session id, never the id (a bearer credential).
  const names = new Map([
    [sessionTag(idA), 'A'],
    [sessionTag(idB), 'B'],
  ]);
  say(`3. Connected two MCP clients to the proxy: session A (${short(idA)}) and session B (${short(idB)}).`);
  say(`   The upstream now has ${upstream.openSessions().length} sessions: one per client.`);

  say('4. A calls "increment" 5 times and B calls it 3 times, through the proxy. Then each reads its counter:');
  for (let i = 0; i < 5; i++) await call(a.client, 'increment');
  for (let i = 0; i < 3; i++) await call(b.client, 'increment');
  const readA = await call(a.client, 'get');
  const readB = await call(b.client, 'get');
  check(readA === 5, `A reads ${readA} (expected 5)`);
  check(readB === 3, `B reads ${readB} (expected 3)`);
  say('   A proxy that pooled one upstream session for both would have shown 8 to each.');

  const adminUrl = proxy.url.replace(/\/mcp$/, '/admin/registry');
  const snapshot = (await (await fetch(adminUrl, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as RegistrySnapshot;
  say(`5. The registry snapshot (GET ${adminUrl}):`);
  printSnapshot(snapshot, names);
  check(snapshot.sessions.length === 2, 'two upstream sessions, one per downstream session, each reused for every call');

  say('6. Client A ends its session (HTTP DELETE to the proxy).');
  const closedA = new Promise<SessionClosedEvent>((resolve) => {
    const onClosed = (event: SessionClosedEvent): void => {
      if (event.downstreamSessionId !== idA) return;
      proxy.registry.off('session:closed', onClosed);
      resolve(event);
    };
    proxy.registry.on('session:closed', onClosed);
  });
  await a.transport.terminateSession();
  const event = await closedA;
  const deleted = await upstream.waitFor((e) => e.type === 'deleted' && e.sessionId === upstreamOfA);
  check(event.forced === false, `the registry retired and closed A's upstream session (after ${Math.round(event.durationMs)} ms)`);
  check(deleted.sessionId === upstreamOfA, `the upstream received the DELETE for A's session (${short(upstreamOfA)})`);
  const after = proxy.registry.snapshot();
  check(
    after.sessions.length === 1 && after.sessions[0]?.downstreamSessionId === idB,
    'the snapshot now holds only B’s upstream session',
  );
  check((await call(b.client, 'get')) === 3, 'B is untouched and still reads 3');

  say('7. Shutting down: clients, then the proxy (which DELETEs B’s upstream session), then the upstream.');
  await a.client.close();
  await b.client.close();
  await proxy.close();
  check(upstream.openSessions().length === 0, 'the upstream has no sessions left');
  await upstream.close();
  say();
  say(failures === 0 ? 'Done: every check passed.' : `Done: ${failures} check(s) FAILED.`);
}

const watchdog = setTimeout(() => {
  console.error(`The demo did not finish within ${TIMEOUT_MS / 1000} s.`);
  process.exit(1);
}, TIMEOUT_MS);
watchdog.unref();

main().then(
  () => process.exit(failures === 0 ? 0 : 1),
  (error: unknown) => {
    console.error('The demo failed:', error);
    process.exit(1);
  },
);
