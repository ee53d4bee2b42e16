/**
 * `mcp-upstream-registry/stdio`: upstream MCP servers as child processes
 * (Node.js only). Combine with the HTTP factory through `factoryByTransport`
 * from the root entry.
 *
 * @module
 */

export type { StdioExit } from './child.js';
export { stdioSessionFactory } from './factory.js';
export type {
  StdioSessionFactoryOptions,
  StdioStderr,
  StdioStderrHandler,
  StdioStderrSource,
} from './options.js';
export { type StdioProcessInfo, stdioProcessOf } from './process-info.js';
export { StdioSpawnError } from './spawn-error.js';
