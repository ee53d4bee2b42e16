// 'fs' plus globSync for the conformance CLI on Node 20 (see fs-globsync.mjs).
import fs from 'node:fs';
import path from 'node:path';

export * from 'node:fs';
export default fs;

/** `**\/<name>` below `options.cwd`: the relative paths of files called `<name>`. */
export function globSync(pattern, options = {}) {
  const match = /^\*\*\/([^*?[\]{}/]+)$/.exec(pattern);
  if (!match) throw new Error(`globSync shim: unsupported pattern ${JSON.stringify(pattern)}`);
  const cwd = options.cwd ?? process.cwd();
  return fs
    .readdirSync(cwd, { recursive: true })
    .map(String)
    .filter((entry) => path.basename(entry) === match[1]);
}
