/**
 * {@link StdioSpawnError}: a stdio upstream could not be started.
 *
 * @module
 */

const MAX_SHOWN = 200;

/**
 * The child process of a stdio upstream could not be started (command not
 * found, not executable, missing working directory). The registry hands it on
 * as the `cause` of its `CreateFailedError`.
 *
 * Unlike Node's own spawn error, it carries neither the arguments nor the
 * environment (either may hold secrets), only the command and the system error code.
 *
 * @example
 * ```ts
 * if (error instanceof CreateFailedError && error.cause instanceof StdioSpawnError && error.cause.code === 'ENOENT') {
 *   logger.error({ command: error.cause.command }, 'MCP server binary is not installed');
 * }
 * ```
 */
export class StdioSpawnError extends Error {
  /** System error code, e.g. `'ENOENT'` or `'EACCES'`; `'ERR_SPAWN'` when Node gave none. */
  readonly code: string;
  /** The command that failed to start (truncated to 200 characters). */
  readonly command: string;

  constructor(command: string, code: string | undefined) {
    const shown = command.length > MAX_SHOWN ? `${command.slice(0, MAX_SHOWN)}…` : command;
    super(`Could not start stdio upstream ${JSON.stringify(shown)}: ${explain(code)}`);
    this.name = 'StdioSpawnError';
    this.code = code ?? 'ERR_SPAWN';
    this.command = shown;
  }
}

function explain(code: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return 'ENOENT (command not found on PATH, or the working directory does not exist)';
    case 'EACCES':
      return 'EACCES (command is not executable, or the working directory is not accessible)';
    case undefined:
      return 'spawn failed';
    default:
      return code;
  }
}

/** The system error code of a Node spawn error, if it has one. */
export function spawnErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
