/**
 * Validation of the options of `snapshot()` and `sessions()`.
 *
 * @module
 */
import { InvalidRequestError } from '../errors.js';
import { showValue } from '../show-value.js';

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
/** A cursor is the decimal connection id of the last session shown. */
const CURSOR = /^(0|[1-9][0-9]{0,15})$/;

function requireObject(value: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequestError('options', `expected an object, got ${showValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new InvalidRequestError(`options.${key}`, 'unknown option');
  }
  return value as Record<string, unknown>;
}

/** True unless `{ sessions: false }`. */
export function validateSnapshotOptions(options: unknown): boolean {
  if (options === undefined) return true;
  const { sessions } = requireObject(options, ['sessions']);
  if (sessions !== undefined && typeof sessions !== 'boolean') {
    throw new InvalidRequestError('options.sessions', `expected a boolean, got ${showValue(sessions)}`);
  }
  return sessions !== false;
}

/** The connection id to start after and the page size. */
export function validatePageOptions(options: unknown): { after: number; limit: number } {
  if (options === undefined) return { after: 0, limit: DEFAULT_PAGE };
  const { cursor, limit } = requireObject(options, ['cursor', 'limit']);
  if (cursor !== undefined && (typeof cursor !== 'string' || !CURSOR.test(cursor))) {
    throw new InvalidRequestError('options.cursor', `expected a cursor from a previous page, got ${showValue(cursor)}`);
  }
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)) {
    throw new InvalidRequestError('options.limit', `expected an integer from 1 to ${MAX_PAGE}, got ${showValue(limit)}`);
  }
  return { after: cursor === undefined ? 0 : Number(cursor), limit: limit ?? DEFAULT_PAGE };
}
