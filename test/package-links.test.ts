import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };

/** Whether `path` (relative to the package root) is in the tarball, by package.json `files` (npm adds package.json itself). */
function shipped(path: string): boolean {
  return pkg.files.some((entry) => {
    if (!entry.includes('*')) return path === entry || path.startsWith(`${entry}/`);
    const pattern = new RegExp(`^${entry.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`);
    return pattern.test(path);
  });
}

const SHIPPED_DOCS = ['README.md', 'CHANGELOG.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('links in the shipped Markdown', () => {
  it.each(SHIPPED_DOCS)('%s links only to files the npm package contains', (doc) => {
    expect(shipped(doc)).toBe(true);
    const text = readFileSync(join(ROOT, doc), 'utf8');
    const dead: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target === undefined || /^(?:[a-z]+:|#)/i.test(target)) continue;
      const path = normalize(join(dirname(doc), target.split('#')[0]!));
      if (!shipped(path) || !existsSync(join(ROOT, path))) dead.push(target);
    }
    expect(dead).toEqual([]);
  });
});
