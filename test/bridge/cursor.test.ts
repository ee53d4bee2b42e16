import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/bridge/cursor.js';

const ids = ['alpha', 'béta', 'gamma'];

describe('aggregated list cursors', () => {
  it('starts every gateway at its first page', () => {
    expect(decodeCursor(undefined, ids)).toEqual(new Map([['alpha', null], ['béta', null], ['gamma', null]]));
  });

  it('round-trips the cursors of the gateways that have more pages', () => {
    const cursors = new Map([['alpha', 'page-2'], ['béta', '{"odd":"cursor ✓"}']]);
    const encoded = encodeCursor(cursors);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(encoded, ids)).toEqual(cursors);
  });

  it('has no cursor when no gateway has more pages', () => {
    expect(encodeCursor(new Map())).toBeUndefined();
  });

  it.each([
    ['garbage', 'not a cursor!'],
    ['not JSON', btoa('nope')],
    ['wrong version', btoa(JSON.stringify({ v: 2, c: {} }))],
    ['unknown gateway', btoa(JSON.stringify({ v: 1, c: { delta: 'x' } }))],
    ['non-string cursor', btoa(JSON.stringify({ v: 1, c: { alpha: 3 } }))],
    ['array', btoa(JSON.stringify({ v: 1, c: ['alpha'] }))],
    ['null', btoa('null')],
    ['too long', 'a'.repeat(70_000)],
  ])('rejects a %s cursor with InvalidParams', (_label, cursor) => {
    const error = (() => {
      try {
        decodeCursor(cursor, ids);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(McpError);
    expect(error).toMatchObject({ code: -32602 });
  });
});
