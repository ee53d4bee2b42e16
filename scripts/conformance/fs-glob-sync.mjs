/**
 * `node:fs` plus a small `globSync` (Node >= 22 has its own) for the
 * conformance CLI on Node 20: patterns with `*`, `**` and `?`, relative to
 * `options.cwd` (default `process.cwd()`), `node_modules` not walked.
 */
import fs from 'node:fs';
import path from 'node:path';

export * from 'node:fs';
export default fs;

function toRegExp(pattern) {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function walk(root, relative, out) {
  let entries;
  try {
    entries = fs.readdirSync(path.join(root, relative), { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
    out.push(child);
    if (entry.isDirectory() && entry.name !== 'node_modules') walk(root, child, out);
  }
}

/** The files and directories under `options.cwd` whose relative path matches one of `patterns`. */
export function globSync(patterns, options = {}) {
  const cwd = options.cwd === undefined ? process.cwd() : String(options.cwd);
  const matchers = (Array.isArray(patterns) ? patterns : [patterns]).map((p) => toRegExp(String(p).replace(/\\/g, '/')));
  const all = [];
  walk(cwd, '', all);
  return all.filter((file) => matchers.some((m) => m.test(file)));
}
