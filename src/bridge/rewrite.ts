/**
 * Rewrites of names and URIs inside MCP results. Results are forwarded as the
 * upstream sent them (unknown fields kept); only the named fields change, and
 * anything malformed is passed on untouched for the client to judge.
 *
 * @module
 */

type Rename = (value: string) => string;
type Item = Record<string, unknown>;

function isItem(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A copy of `items` with `field` of each item renamed. */
export function renameItems(items: unknown, field: string, rename: Rename): unknown[] {
  if (!Array.isArray(items)) return [];
  return items.map((item) => {
    if (!isItem(item) || typeof item[field] !== 'string') return item;
    return { ...item, [field]: rename(item[field]) };
  });
}

/** One content block with the URI of a `resource_link` or embedded `resource` renamed. */
function renameContent(block: unknown, rename: Rename): unknown {
  if (!isItem(block)) return block;
  if (block.type === 'resource_link' && typeof block.uri === 'string') return { ...block, uri: rename(block.uri) };
  if (block.type === 'resource' && isItem(block.resource) && typeof block.resource.uri === 'string') {
    return { ...block, resource: { ...block.resource, uri: rename(block.resource.uri) } };
  }
  return block;
}

/** A `tools/call` result with the resource URIs in its content renamed. */
export function renameToolResult<T extends Item>(result: T, rename: Rename): T {
  if (!Array.isArray(result.content)) return result;
  return { ...result, content: result.content.map((block) => renameContent(block, rename)) };
}

/** A `prompts/get` result with the resource URIs in its messages renamed. */
export function renamePromptResult<T extends Item>(result: T, rename: Rename): T {
  if (!Array.isArray(result.messages)) return result;
  const messages = result.messages.map((message) =>
    isItem(message) ? { ...message, content: renameContent(message.content, rename) } : message,
  );
  return { ...result, messages };
}

/** A `resources/read` result with the URI of each content renamed. */
export function renameReadResult<T extends Item>(result: T, rename: Rename): T {
  if (!Array.isArray(result.contents)) return result;
  return { ...result, contents: renameItems(result.contents, 'uri', rename) };
}
