import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/hash.js';

const nodeSha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('sha256Hex', () => {
  it.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    [
      'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    ],
    ['The quick brown fox jumps over the lazy dog', 'd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592'],
  ])('matches the published vector for %j', (input, expected) => {
    expect(sha256Hex(input)).toBe(expected);
  });

  it('matches the FIPS vector for one million "a"', () => {
    expect(sha256Hex('a'.repeat(1_000_000))).toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  it('handles every length around the padding boundaries', () => {
    for (let n = 0; n <= 130; n++) {
      const input = 'x'.repeat(n);
      expect(sha256Hex(input), `length ${n}`).toBe(nodeSha256(input));
    }
  });

  it('hashes the UTF-8 encoding of non-ASCII text', () => {
    expect(sha256Hex('héllo wörld 😀 日本')).toBe(nodeSha256('héllo wörld 😀 日本'));
  });

  it('agrees with node:crypto on random strings, including non-ASCII', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        expect(sha256Hex(s)).toBe(nodeSha256(s));
      }),
      { numRuns: 500 },
    );
  });

  it('is repeatable (no state leaks between calls)', () => {
    const first = sha256Hex('a'.repeat(200));
    sha256Hex('something else');
    expect(sha256Hex('a'.repeat(200))).toBe(first);
  });

  it('takes its digest from @noble/hashes, bundled rather than installed (a devDependency)', () => {
    // tsup bundles what is not a dependency: the ESM-only v2 then works in the CommonJS build on every Node 20.
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    expect(pkg.devDependencies?.['@noble/hashes']).toBeDefined();
    expect(pkg.dependencies?.['@noble/hashes']).toBeUndefined();
    expect(readFileSync(new URL('../src/hash.ts', import.meta.url), 'utf8')).toContain("from '@noble/hashes/sha2.js'");
  });
});
