/**
 * An upstream with a distinct identity, for the identity tests: its own
 * `serverInfo`, instructions and only the tools capability. Its tool `whoami`
 * answers with the `clientInfo` name its session was initialized with.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
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
