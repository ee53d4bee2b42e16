/**
 * An upstream with a distinct identity, for the identity tests: its own
 * `serverInfo`, instructions and only the tools capability. Its tool `whoami`
 * answers with the `clientInfo` name its session was initialized with. And a
 * flaky upstream for the partial-list tests.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { type McpHost, hostMcpServer } from '../../examples/shared/mcp-host.js';

export const IDENTITY = { name: 'identity-upstream', version: '3.1.4' } as const;
export const IDENTITY_INSTRUCTIONS = 'Call whoami to learn who you are.';

export function startIdentityUpstream(): Promise<McpHost> {
  return hostMcpServer(() => {
    const mcp = new McpServer(IDENTITY, { capabilities: { tools: {} }, instructions: IDENTITY_INSTRUCTIONS });
    mcp.registerTool('whoami', { description: 'The clientInfo name of this session' }, async () => ({
      content: [{ type: 'text', text: mcp.server.getClientVersion()?.name ?? '?' }],
    }));
    return mcp;
  });
}

/** An upstream whose `tools/list` fails until `setBroken(false)`; its one tool is `ping`. */
export async function startFlakyUpstream(): Promise<McpHost & { setBroken(broken: boolean): void }> {
  const state = { broken: true };
  const host = await hostMcpServer(() => {
    const mcp = new McpServer({ name: 'flaky', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    mcp.server.setRequestHandler(ListToolsRequestSchema, async () => {
      if (state.broken) throw new McpError(ErrorCode.InternalError, 'tools/list is broken right now');
      return { tools: [{ name: 'ping', inputSchema: { type: 'object' as const } }] };
    });
    return mcp;
  });
  return Object.assign(host, {
    setBroken(broken: boolean) {
      state.broken = broken;
    },
  });
}
