import { classifyError } from '../classify.js';

/**
 * The low-cardinality `error.type` of an error: a JSON-RPC error's code (as the
 * MCP conventions ask), a `RegistryError`'s stable `code`, `'timeout'`, the
 * class name of a named error, `'transport'` for a lost connection, else
 * `'_OTHER'`. Never the message (it may carry a URL or an id).
 */
export function errorType(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '_OTHER';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && Number.isInteger(code)) return String(code);
  if (typeof code === 'string' && /^ERR_[A-Z_]+$/.test(code)) return code;
  const kind = classifyError(error);
  if (kind === 'timeout' || kind === 'transport') return kind;
  const name = (error as { name?: unknown }).name;
  if (typeof name === 'string' && name !== 'Error' && /^[A-Za-z][\w.]{0,63}$/.test(name)) return name;
  return '_OTHER';
}
