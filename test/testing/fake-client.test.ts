import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { classifyError } from '../../src/classify.js';
import { FakeClient } from '../../src/testing/fake-client.js';

const text = (result: unknown): string => (result as { content: Array<{ text: string }> }).content[0]!.text;

describe('FakeClient', () => {
  it('has unique, increasing ids', () => {
    const a = new FakeClient();
    const b = new FakeClient();
    expect(b.id).toBeGreaterThan(a.id);
  });

  it('answers every probe method by default and records calls in order', async () => {
    const client = new FakeClient();
    await expect(client.ping()).resolves.toEqual({});
    await expect(client.listTools({ cursor: 'x' })).resolves.toMatchObject({
      tools: [{ name: 'increment' }, { name: 'get' }],
    });
    await expect(client.listPrompts()).resolves.toEqual({ prompts: [] });
    await expect(client.listResources()).resolves.toEqual({ resources: [] });
    expect(client.calls).toEqual([
      { method: 'ping' },
      { method: 'listTools', params: { cursor: 'x' } },
      { method: 'listPrompts' },
      { method: 'listResources' },
    ]);
  });

  it('keeps a counter per client: 5 + 3 never reads 8', async () => {
    const tabA = new FakeClient();
    const tabB = new FakeClient();
    for (let i = 0; i < 5; i += 1) await tabA.callTool({ name: 'increment' });
    for (let i = 0; i < 3; i += 1) await tabB.callTool({ name: 'increment' });
    expect(text(await tabA.callTool({ name: 'get' }))).toBe('5');
    expect(text(await tabB.callTool({ name: 'get' }))).toBe('3');
    expect(tabA.counter).toBe(5);
    await expect(tabA.callTool({ name: 'nope' })).resolves.toMatchObject({ isError: true });
  });

  it('returns a programmed ok value, rejects with a programmed error', async () => {
    const client = new FakeClient();
    client.setAnswer('callTool', { kind: 'ok', value: { content: [], custom: true } });
    await expect(client.callTool({ name: 'increment' })).resolves.toEqual({ content: [], custom: true });
    expect(client.counter).toBe(0);
    const error = new McpError(ErrorCode.InvalidParams, 'bad');
    client.setAnswer('ping', { kind: 'error', error });
    await expect(client.ping()).rejects.toBe(error);
  });

  it('hangs until the call signal aborts, then rejects with signal.reason', async () => {
    const client = new FakeClient();
    client.setAnswer('ping', { kind: 'hang' });
    const controller = new AbortController();
    const call = client.ping({ signal: controller.signal });
    let settled = false;
    call.catch(() => {}).finally(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    expect(client.hangingCalls).toBe(1);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(client.hangingCalls).toBe(0);
    await expect(client.ping({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('failProbes, hangProbes and healthy switch all four probe methods', async () => {
    const client = new FakeClient();
    const error = new Error('probe failure');
    client.failProbes(error);
    for (const call of [client.ping(), client.listTools(), client.listPrompts(), client.listResources()]) {
      await expect(call).rejects.toBe(error);
    }
    await expect(client.callTool({ name: 'get' })).resolves.toBeDefined();
    client.hangProbes();
    const controller = new AbortController();
    const hanging = [
      client.ping({ signal: controller.signal }),
      client.listTools(undefined, { signal: controller.signal }),
      client.listPrompts(undefined, { signal: controller.signal }),
      client.listResources(undefined, { signal: controller.signal }),
    ];
    expect(client.hangingCalls).toBe(4);
    controller.abort(new Error('done'));
    for (const call of hanging) await expect(call).rejects.toThrow('done');
    client.healthy();
    await expect(client.ping()).resolves.toEqual({});
  });

  it('break() rejects hanging and later calls with a transport error, and stays broken', async () => {
    const client = new FakeClient();
    client.setAnswer('callTool', { kind: 'hang' });
    const inFlight = client.callTool({ name: 'increment' });
    client.break();
    const error = await inFlight.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpError);
    expect(error).toMatchObject({ code: ErrorCode.ConnectionClosed });
    expect(classifyError(error)).toBe('transport');
    await expect(client.ping()).rejects.toBe(error);
    client.healthy();
    await expect(client.listTools()).rejects.toBe(error);
    expect(client.broken).toBe(true);
    expect(client.calls.map((call) => call.method)).toEqual(['callTool', 'ping', 'listTools']);
  });

  it('break(error) uses the given error; a second break keeps the first', async () => {
    const client = new FakeClient();
    const first = new Error('Not connected');
    client.break(first);
    client.break(new Error('second'));
    await expect(client.ping()).rejects.toBe(first);
  });
});
