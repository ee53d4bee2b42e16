// A stdio MCP counter server for P9 (one counter per process), in plain
// JavaScript so that its start-up is Node's and the SDK's, not a TypeScript
// loader's. Tools: `increment` (adds one, returns the new value), `get`.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

let counter = 0;
const text = (value) => ({ content: [{ type: 'text', text: String(value) }] });
const server = new McpServer({ name: 'bench-stdio-counter', version: '1.0.0' });
server.registerTool('increment', { description: "Adds one to this process's counter" }, async () => text(++counter));
server.registerTool('get', { description: "Returns this process's counter" }, async () => text(counter));
await server.connect(new StdioServerTransport());
