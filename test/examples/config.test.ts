/** The examples' configuration: refused at startup, with the reason, when they could not serve it. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeNamespace, loadConfig } from '../../examples/shared/config.js';

describe('example config', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function file(content: unknown): string {
    const dir = mkdtempSync(join(tmpdir(), 'proxy-config-'));
    dirs.push(dir);
    const path = join(dir, 'proxy.json');
    writeFileSync(path, JSON.stringify(content));
    return path;
  }
  const http = { id: 'web', url: 'http://127.0.0.1:3001/mcp' };
  const stdio = { id: 'local', transport: 'stdio', stdio: { command: 'node', args: ['server.js'] } };

  it('accepts stdio gateways and namespacing from the file', () => {
    const config = loadConfig({ MCP_PROXY_CONFIG: file({ gateways: [http, stdio], namespace: 'always', namespaceSeparator: '.' }) });
    expect(config?.gateways.map((g) => g.id)).toEqual(['web', 'local']);
    expect(config?.bridge).toEqual({ namespace: 'always', namespaceSeparator: '.' });
    expect(describeNamespace(config?.gateways ?? [], config?.bridge ?? {})).toBe('names prefixed "<gateway id>."');
    expect(describeNamespace([http], {})).toBe('names unchanged');
    const merged = loadConfig({ MCP_PROXY_CONFIG: file({ gateways: [http, { ...http, id: 'second' }], namespace: 'none' }) });
    expect(merged?.bridge).toEqual({ namespace: 'none' });
    expect(describeNamespace(merged?.gateways ?? [], merged?.bridge ?? {})).toMatch(/^names merged unchanged/);
  });

  it('refuses at startup what the examples cannot serve', () => {
    const refuses = (content: unknown, message: RegExp, env: Record<string, string> = {}) =>
      expect(() => loadConfig({ ...env, MCP_PROXY_CONFIG: file(content) })).toThrow(message);
    refuses({ gateways: [stdio] }, /cannot share/, { REDIS_URL: 'redis://127.0.0.1:6379' });
    refuses({ gateways: [http, { ...http }] }, /duplicate id "web"/);
    refuses({ gateways: [http], namespace: 'never' }, /namespace/);
    refuses({ gateways: [http, { ...stdio, id: 'a__b' }] }, /separator/);
    refuses({ gateways: [http], namespaces: 'auto' }, /unknown key "namespaces"/);
    refuses({ gateways: [{ id: 'x', transport: 'stdio', url: 'http://127.0.0.1/mcp' }] }, /url/);
    refuses({ gateways: [] }, /non-empty array/);
  });

  it('reads gateways from MCP_GATEWAYS, or nothing', () => {
    expect(loadConfig({ MCP_GATEWAYS: JSON.stringify([http]) })?.gateways).toEqual([http]);
    expect(loadConfig({})).toBeUndefined();
  });
});
