/**
 * Tasks through both example proxies with one gateway: a real SDK upstream
 * with a task store and a task tool; a real SDK client downstream that creates
 * a task with a task-augmented `tools/call`, polls it, lists it, gets its
 * result, cancels another, and receives `notifications/tasks/status`.
 */
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolResultSchema, CreateTaskResultSchema, type ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy as startExpress } from '../../examples/express/proxy.js';
import { startProxy as startHono } from '../../examples/hono/proxy.js';
import type { RunningProxy } from '../../examples/shared/main.js';
import { hostMcpServer } from '../../examples/shared/mcp-host.js';
import { connectClient } from './helpers.js';

const TASKS = { list: {}, cancel: {}, requests: { tools: { call: {} } } };

/** An upstream whose tool `job` runs as a task until the test calls `finish(taskId)`. */
async function taskUpstream(stores: InMemoryTaskStore[]) {
  const pending = new Map<string, () => Promise<void>>();
  const host = await hostMcpServer(() => {
    const taskStore = new InMemoryTaskStore();
    stores.push(taskStore);
    const mcp = new McpServer({ name: 'task-upstream', version: '2.0.0' }, { capabilities: { tools: {}, tasks: TASKS }, taskStore });
    mcp.experimental.tasks.registerToolTask(
      'job',
      { description: 'Runs until finished', execution: { taskSupport: 'required' } },
      {
        async createTask({ taskStore: store, taskRequestedTtl }) {
          const task = await store.createTask({ ttl: taskRequestedTtl ?? 60_000, pollInterval: 10 });
          pending.set(task.taskId, () =>
            store.storeTaskResult(task.taskId, 'completed', { content: [{ type: 'resource_link', uri: 'job://out', name: 'out' }] }),
          );
          return { task };
        },
        getTask: (extra) => extra.taskStore.getTask(extra.taskId),
        getTaskResult: async (extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
      },
    );
    return mcp;
  });
  return {
    host,
    finish: (taskId: string) => (pending.get(taskId) as () => Promise<void>)(),
  };
}

describe.each([
  ['Express', startExpress],
  ['Hono', startHono],
])('tasks through the %s example with one gateway', (_name, startProxy) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup() {
    const stores: InMemoryTaskStore[] = [];
    const { host, finish } = await taskUpstream(stores);
    cleanups.push(
      () => host.close(),
      async () => {
        for (const store of stores) store.cleanup();
      },
    );
    const proxy: RunningProxy = await startProxy({ gateways: [{ id: 'jobs', url: host.url }] });
    cleanups.push(() => proxy.close());
    const downstream = await connectClient(proxy.url);
    cleanups.push(() => downstream.close());
    return { downstream, finish };
  }

  it('announces the upstream tasks capability and forwards create, get, list, status, result and cancel', async () => {
    const { downstream, finish } = await setup();
    const { client } = downstream;
    expect(client.getServerCapabilities()?.tasks).toEqual(TASKS);

    const created = await client.request(
      { method: 'tools/call', params: { name: 'job', arguments: {}, task: { ttl: 60_000 } } },
      CreateTaskResultSchema,
    );
    const { taskId } = created.task;
    expect(created.task.status).toBe('working');
    expect((await client.experimental.tasks.getTask(taskId)).status).toBe('working');
    expect((await client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(taskId);

    await finish(taskId);
    const status = await downstream.waitForNotification(
      (n: ServerNotification) => n.method === 'notifications/tasks/status' && (n.params as { taskId?: string }).taskId === taskId,
    );
    expect((status.params as { status: string }).status).toBe('completed');
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(result.content).toEqual([{ type: 'resource_link', uri: 'job://out', name: 'out' }]);

    const second = await client.request({ method: 'tools/call', params: { name: 'job', arguments: {}, task: {} } }, CreateTaskResultSchema);
    const cancelled = await client.experimental.tasks.cancelTask(second.task.taskId);
    expect(cancelled.status).toBe('cancelled');
    await expect(client.experimental.tasks.getTask('no-such-task')).rejects.toThrow(/not found/i);
  });
});
