/**
 * A stateful upstream MCP server for the demo and the examples: every session
 * has its own counter. Tools: `increment` (adds one, returns the new value),
 * `get` (returns it).
 *
 * Run it alone: `npx tsx examples/shared/counter-upstream.ts` (listens on
 * 127.0.0.1:3001, or `PORT`).
 */
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type McpHost, type McpHostOptions, hostMcpServer } from './mcp-host.js';

/** One session's server: a counter that starts at 0. */
export function buildCounterServer(): McpServer {
  let count = 0;
  const server = new McpServer({ name: 'counter-upstream', version: '1.0.0' });
  const text = (value: number) => ({ content: [{ type: 'text' as const, text: String(value) }] });
  server.registerTool('increment', { description: 'Add one to this session’s counter' }, async () => text(++count));
  server.registerTool('get', { description: 'Read this session’s counter' }, async () => text(count));
  return server;
}

/** Starts the counter upstream on 127.0.0.1 (port 0 unless given). */
export function startCounterUpstream(options?: McpHostOptions): Promise<McpHost> {
  return hostMcpServer(() => buildCounterServer(), options);
}

async function main(): Promise<void> {
  const upstream = await startCounterUpstream({ port: Number(process.env.PORT ?? 3001) });
  console.log(`counter upstream listening on ${upstream.url}`);
  const stop = (): void => {
    upstream.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
