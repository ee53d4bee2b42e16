/**
 * Run: `npx tsx examples/express/server.ts`
 * With gateways: `MCP_GATEWAYS='[{"id":"counter","url":"http://127.0.0.1:3001/mcp"}]' npx tsx examples/express/server.ts`
 */
import { runMain } from '../shared/main.js';
import { startProxy } from './proxy.js';

runMain('Express', startProxy);
