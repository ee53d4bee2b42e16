import { classifyError } from '../classify.js';

/**
 * The low-cardinality `error.type` of an error: `'timeout'` / `'aborted'` for a
 * `TimeoutError` / `AbortError`, a JSON-RPC error's code (as the MCP
 * conventions ask) or an HTTP status, a `RegistryError`'s stable `code`,
 * `'transport'` / `'timeout'` as `classifyError` sees it, the class name of a
 * named error, else `'_OTHER'`. Never the message (it may carry a URL or an id).
 *
 * @example
 * ```ts
 * errorType(new McpError(-32602, 'Invalid params')); // '-32602'
 * errorType(new CreateFailedError('weather', 'boom')); // 'ERR_CREATE_FAILED'
 * ```
 */
export function errorType(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '_OTHER';
  const name = (error as { name?: unknown }).name;
  if (name === 'TimeoutError') return 'timeout';
  if (name === 'AbortError') return 'aborted';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && Number.isInteger(code)) return String(code);
  if (typeof code === 'string' && /^ERR_[A-Z_]+$/.test(code)) return code;
  const kind = classifyError(error);
  if (kind === 'timeout' || kind === 'transport') return kind;
  if (typeof name === 'string' && name !== 'Error' && /^[A-Za-z][\w.]{0,63}$/.test(name)) return name;
  return '_OTHER';
}
