/**
 * A minimal proxy on the library's public entries (root, `/bridge`, `/stdio`)
 * and plain `node:http`, for P9: two MCP endpoints in one process, each with
 * its own gateway list (e.g. `/stdio` with a stdio gateway, `/http` with an
 * HTTP one), sharing one registry that dispatches by transport.
 *
 * @module
 */

import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { BridgeGateway, DownstreamSessions } from '../../src/bridge/index.js';
import type { Library } from '../library.js';

/** A running proxy. */
export interface BridgeProxy {
  /** MCP endpoint URL per path given. */
  readonly urls: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Starts the proxy on 127.0.0.1 with one endpoint per entry of `endpoints` (`/name` → its gateways); `spares`: warm spares per gateway id. */
export async function startBridgeProxy(
  lib: Library,
  endpoints: Readonly<Record<string, readonly BridgeGateway[]>>,
  spares: Readonly<Record<string, number>> = {},
): Promise<BridgeProxy> {
  const { UpstreamSessionRegistry, factoryByTransport, mcpSessionFactory } = lib.root;
  const hub = new lib.bridge.BridgeHub();
  const hooks = { configureClient: hub.configureClient, adoptClient: hub.adoptClient };
  const http = mcpSessionFactory(hooks);
  const registry = new UpstreamSessionRegistry({
    onSessionLost: 'fail',
    spares,
    factory: factoryByTransport({
      'streamable-http': http,
      stdio: lib.stdio.stdioSessionFactory(hooks),
    }),
  });
  const tables = new Map<string, DownstreamSessions<StreamableHTTPServerTransport>>();
  for (const [name, gateways] of Object.entries(endpoints)) {
    tables.set(
      `/${name}`,
      new lib.bridge.DownstreamSessions({ hub, registry, gateways, createTransport: (o) => new StreamableHTTPServerTransport(o) }),
    );
  }
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const table = tables.get(req.url ?? '');
    if (table === undefined) {
      res.writeHead(404).end();
      return;
    }
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    const outcome = await table.dispatch({ method: req.method ?? 'GET', headers: req.headers, body, signal: aborted.signal }, (t) =>
      t.handleRequest(req, res, body),
    );
    if (outcome.kind === 'handled') return;
    res.writeHead(outcome.status, { 'content-type': 'application/json', ...outcome.headers }).end(JSON.stringify(outcome.body));
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const urls = Object.fromEntries(Object.keys(endpoints).map((name) => [name, `http://127.0.0.1:${port}/${name}`]));
  return {
    urls,
    async close() {
      for (const table of tables.values()) await table.closeAll();
      await registry.closeAll();
      await hub.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
