import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, ListToolsRequestSchema, McpError, PingRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyError } from '../src/classify.js';
import { InvalidOptionsError } from '../src/errors.js';
import {
  type ProbeableClient,
  type ProbeChain,
  type ProbeResult,
  type ProbeStep,
  defaultProbeChain,
  runProbeChain,
} from '../src/probe.js';
import { FakeClient } from '../src/testing/fake-client.js';
import { ManualClock } from '../src/testing/manual-clock.js';

const TIMEOUT = 1_000;
const methodNotFound = (): McpError => new McpError(ErrorCode.MethodNotFound, 'Method not found');
const notAdvertised = (capability: string, method: string): Error =>
  new Error(`Server does not support ${capability} (required for ${method})`);

interface Tracked<T> {
  readonly settled: boolean;
  readonly rejected: boolean;
  readonly value: T | undefined;
  readonly error: unknown;
}

/** Observes a promise without letting a rejection go unhandled while the clock advances. */
function track<T>(promise: Promise<T>): Tracked<T> {
  const state = { settled: false, rejected: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, rejected: true, error }),
  );
  return state;
}

function probe(client: FakeClient, clock: ManualClock, chain: ProbeChain = defaultProbeChain): Tracked<ProbeResult> {
  return track(runProbeChain(client, chain, { timeoutMs: TIMEOUT, clock }));
}

function methodsCalled(client: FakeClient): string[] {
  return client.calls.map((call) => call.method);
}

// Type-level: the SDK Client and the FakeClient are ProbeableClients (tsc fails otherwise).
function acceptsProbeable(client: ProbeableClient): ProbeableClient {
  return client;
}

describe('defaultProbeChain', () => {
  it('is ping -> tools/list -> prompts/list -> resources/list, frozen', () => {
    expect(defaultProbeChain.map((step) => step.name)).toEqual(['ping', 'tools/list', 'prompts/list', 'resources/list']);
    expect(Object.isFrozen(defaultProbeChain)).toBe(true);
    for (const step of defaultProbeChain) expect(Object.isFrozen(step)).toBe(true);
  });

  it('accepts the SDK Client and the FakeClient as ProbeableClient', () => {
    const sdkClient = new Client({ name: 'type-check', version: '1.0.0' });
    expect(acceptsProbeable(sdkClient)).toBe(sdkClient);
    const fake = new FakeClient();
    expect(acceptsProbeable(fake)).toBe(fake);
  });

  it('passes the step signal and the timeout to the client', async () => {
    const seen: unknown[] = [];
    const client: ProbeableClient = {
      ping: async (options) => {
        seen.push(options);
        return {};
      },
      listTools: async () => ({}),
      listPrompts: async () => ({}),
      listResources: async () => ({}),
    };
    await runProbeChain(client, defaultProbeChain, { timeoutMs: 1234, clock: new ManualClock() });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ timeout: 1234 });
    expect((seen[0] as { signal: unknown }).signal).toBeInstanceOf(AbortSignal);
  });
});

describe('runProbeChain with a FakeClient and a ManualClock', () => {
  it('ends healthy at the first step that answers, and clears its timer', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: TIMEOUT, clock });
    expect(result).toEqual({ healthy: true, step: 'ping' });
    expect(Object.isFrozen(result)).toBe(true);
    expect(methodsCalled(client)).toEqual(['ping']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('advances past method-not-found, server-side and client-side', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    client.setAnswer('ping', { kind: 'error', error: methodNotFound() });
    client.setAnswer('listTools', { kind: 'error', error: notAdvertised('tools', 'tools/list') });
    const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: TIMEOUT, clock });
    expect(result).toEqual({ healthy: true, step: 'prompts/list' });
    expect(methodsCalled(client)).toEqual(['ping', 'listTools', 'listPrompts']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('ends unhealthy at a transport error and goes no further', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    const error = new McpError(ErrorCode.ConnectionClosed, 'Connection closed');
    client.setAnswer('ping', { kind: 'error', error: methodNotFound() });
    client.setAnswer('listTools', { kind: 'error', error });
    const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: TIMEOUT, clock });
    expect(result).toEqual({ healthy: false, step: 'tools/list', error });
    expect(result.error).toBe(error);
    expect(methodsCalled(client)).toEqual(['ping', 'listTools']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('is unhealthy on a broken client', async () => {
    const client = new FakeClient();
    client.break();
    const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: TIMEOUT, clock: new ManualClock() });
    expect(result.healthy).toBe(false);
    expect(result.step).toBe('ping');
    expect(classifyError(result.error)).toBe('transport');
  });

  it('rejects with an application error instead of calling the connection unhealthy', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    const bug = new McpError(ErrorCode.InternalError, 'handler crashed');
    client.setAnswer('ping', { kind: 'error', error: bug });
    await expect(runProbeChain(client, defaultProbeChain, { timeoutMs: TIMEOUT, clock })).rejects.toBe(bug);
    expect(methodsCalled(client)).toEqual(['ping']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('times a step out at exactly timeoutMs on the clock, aborts its signal, and advances', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    client.setAnswer('ping', { kind: 'hang' });
    const run = probe(client, clock);
    await clock.advance(TIMEOUT - 1);
    expect(run.settled).toBe(false);
    expect(client.hangingCalls).toBe(1);
    await clock.advance(1);
    expect(run.value).toEqual({ healthy: true, step: 'tools/list' });
    // The hanging ping was rejected through its aborted signal.
    expect(client.hangingCalls).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('times out a step that ignores its signal', async () => {
    const clock = new ManualClock();
    const deaf: ProbeStep<FakeClient> = { name: 'deaf', run: () => new Promise(() => {}) };
    const answering: ProbeStep<FakeClient> = { name: 'answering', run: (client, options) => client.ping(options) };
    const run = probe(new FakeClient(), clock, [deaf, answering] as ProbeChain);
    await clock.advance(TIMEOUT);
    expect(run.value).toEqual({ healthy: true, step: 'answering' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('is unhealthy when every step times out: a hung upstream must not pass', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    client.hangProbes();
    const run = probe(client, clock);
    for (let step = 0; step < 3; step += 1) await clock.advance(TIMEOUT);
    expect(run.settled).toBe(false);
    await clock.advance(TIMEOUT);
    expect(run.value?.healthy).toBe(false);
    expect(run.value?.step).toBe('resources/list');
    expect(run.value?.error).toMatchObject({ name: 'TimeoutError' });
    expect(classifyError(run.value?.error)).toBe('timeout');
    expect(methodsCalled(client)).toEqual(['ping', 'listTools', 'listPrompts', 'listResources']);
    expect(clock.now()).toBe(4 * TIMEOUT);
    expect(clock.pendingTimers).toBe(0);
  });

  it("counts the SDK's own RequestTimeout error as a timeout", async () => {
    const client = new FakeClient();
    client.failProbes(new McpError(ErrorCode.RequestTimeout, 'Request timed out'));
    const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: TIMEOUT, clock: new ManualClock() });
    expect(result.healthy).toBe(false);
    expect(result.step).toBe('resources/list');
  });

  it("is healthy 'exhausted' when timeouts mix with server-side method-not-found", async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    client.setAnswer('ping', { kind: 'hang' });
    client.setAnswer('listTools', { kind: 'error', error: methodNotFound() });
    client.setAnswer('listPrompts', { kind: 'hang' });
    client.setAnswer('listResources', { kind: 'error', error: methodNotFound() });
    const run = probe(client, clock);
    await clock.advance(2 * TIMEOUT);
    expect(run.value).toEqual({ healthy: true, step: 'exhausted' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('is unhealthy when steps time out and the rest were only refused locally (nothing reached the server)', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    client.setAnswer('ping', { kind: 'hang' });
    client.setAnswer('listTools', { kind: 'hang' });
    client.setAnswer('listPrompts', { kind: 'error', error: notAdvertised('prompts', 'prompts/list') });
    client.setAnswer('listResources', { kind: 'error', error: notAdvertised('resources', 'resources/list') });
    const run = probe(client, clock);
    await clock.advance(2 * TIMEOUT);
    expect(run.value?.healthy).toBe(false);
    expect(run.value?.step).toBe('tools/list');
    expect(classifyError(run.value?.error)).toBe('timeout');
  });

  it("is healthy 'exhausted' when every step is method-not-found", async () => {
    const client = new FakeClient();
    client.failProbes(methodNotFound());
    const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: TIMEOUT, clock: new ManualClock() });
    expect(result).toEqual({ healthy: true, step: 'exhausted' });
  });

  it("is healthy 'none' for an empty chain, without calling the client", async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    const result = await runProbeChain(client, [], { timeoutMs: TIMEOUT, clock });
    expect(result).toEqual({ healthy: true, step: 'none' });
    expect(client.calls).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('treats a step that throws synchronously like a rejection', async () => {
    const throwsMnf: ProbeStep<FakeClient> = {
      name: 'throws',
      run: () => {
        throw methodNotFound();
      },
    };
    const answering: ProbeStep<FakeClient> = { name: 'answering', run: (client, options) => client.ping(options) };
    const clock = new ManualClock();
    const result = await runProbeChain(new FakeClient(), [throwsMnf, answering], { timeoutMs: TIMEOUT, clock });
    expect(result).toEqual({ healthy: true, step: 'answering' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('consumes the late rejection of a step that already timed out', async () => {
    const clock = new ManualClock();
    let rejectLate: (error: unknown) => void = () => {};
    const late: ProbeStep<FakeClient> = {
      name: 'late',
      run: () =>
        new Promise((_resolve, reject) => {
          rejectLate = reject;
        }),
    };
    const run = probe(new FakeClient(), clock, [late]);
    await clock.advance(TIMEOUT);
    expect(run.value?.healthy).toBe(false);
    // Would be an unhandled rejection (failing the run) if the race did not consume it.
    rejectLate(new Error('too late'));
    await clock.flush();
  });

  it('rejects at once with the reason of an already aborted signal, calling nothing', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    const reason = new Error('caller gone');
    await expect(
      runProbeChain(client, defaultProbeChain, { timeoutMs: TIMEOUT, clock, signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect(client.calls).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects at once with signal.reason when the caller aborts mid-step, and aborts the step', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    client.hangProbes();
    const controller = new AbortController();
    const run = track(runProbeChain(client, defaultProbeChain, { timeoutMs: TIMEOUT, clock, signal: controller.signal }));
    await clock.advance(TIMEOUT / 2);
    const reason = new Error('caller gone');
    controller.abort(reason);
    await clock.flush();
    expect(run.rejected).toBe(true);
    expect(run.error).toBe(reason);
    expect(clock.now()).toBe(TIMEOUT / 2);
    expect(client.hangingCalls).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(methodsCalled(client)).toEqual(['ping']);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5', undefined])(
    'rejects timeoutMs %s with InvalidOptionsError, calling nothing',
    async (timeoutMs) => {
      const client = new FakeClient();
      const error = await runProbeChain(client, defaultProbeChain, { timeoutMs: timeoutMs as number }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect(error).toMatchObject({ code: 'ERR_INVALID_OPTIONS', option: 'timeoutMs' });
      expect(client.calls).toHaveLength(0);
    },
  );

  it('uses the system clock by default', async () => {
    const client = new FakeClient();
    client.setAnswer('ping', { kind: 'hang' });
    // A real 5 ms deadline: the result itself proves the default timer fired.
    const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: 5 });
    expect(result).toEqual({ healthy: true, step: 'tools/list' });
  });
});

describe('runProbeChain against a real SDK McpServer with only tools', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function connect(server: McpServer, strict: boolean): Promise<Client> {
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: 'probe-test', version: '1.0.0' }, { enforceStrictCapabilities: strict });
    await server.connect(serverTransport);
    await client.connect(clientTransport);
    cleanups.push(async () => {
      await client.close();
      await server.close();
    });
    return client;
  }

  function toolsOnlyServer(): McpServer {
    const server = new McpServer({ name: 'tools-only', version: '1.0.0' });
    server.registerTool('echo', { description: 'echo' }, async () => ({ content: [{ type: 'text', text: 'hi' }] }));
    return server;
  }

  /** Puts the list steps first, so that method-not-found has to be advanced past before tools/list answers. */
  const listsFirst: ProbeChain = [defaultProbeChain[2]!, defaultProbeChain[3]!, defaultProbeChain[1]!];

  it('advances past the server-side MethodNotFound (-32601)', async () => {
    const client = await connect(toolsOnlyServer(), false);
    await expect(client.listPrompts()).rejects.toMatchObject({ code: ErrorCode.MethodNotFound });
    const result = await runProbeChain(client, listsFirst, { timeoutMs: 60_000, clock: new ManualClock() });
    expect(result).toEqual({ healthy: true, step: 'tools/list' });
  });

  it('advances past the client-side "Server does not support" refusal', async () => {
    const client = await connect(toolsOnlyServer(), true);
    await expect(client.listPrompts()).rejects.toThrow('Server does not support prompts (required for prompts/list)');
    const result = await runProbeChain(client, listsFirst, { timeoutMs: 60_000, clock: new ManualClock() });
    expect(result).toEqual({ healthy: true, step: 'tools/list' });
  });

  it('answers the default chain at ping', async () => {
    const client = await connect(toolsOnlyServer(), false);
    const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: 60_000, clock: new ManualClock() });
    expect(result).toEqual({ healthy: true, step: 'ping' });
  });

  it('calls a real server unhealthy when ping and tools/list hang and the rest is not advertised', async () => {
    const server = toolsOnlyServer();
    let hung = 0;
    const hangUntilCancelled = (_request: unknown, extra: { signal: AbortSignal }): Promise<never> =>
      new Promise((_resolve, reject) => {
        hung += 1;
        extra.signal.addEventListener('abort', () => reject(extra.signal.reason), { once: true });
      });
    server.server.setRequestHandler(PingRequestSchema, hangUntilCancelled);
    server.server.setRequestHandler(ListToolsRequestSchema, hangUntilCancelled);
    const client = await connect(server, true);
    const clock = new ManualClock();
    // The SDK's own request timeout (60 s, real time) never fires: the manual clock decides first.
    const run = track(runProbeChain(client, defaultProbeChain, { timeoutMs: 60_000, clock }));
    await clock.advance(60_000);
    expect(run.settled).toBe(false);
    await clock.advance(60_000);
    expect(hung).toBe(2);
    expect(run.value?.healthy).toBe(false);
    expect(run.value?.step).toBe('tools/list');
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports a closed SDK client as a transport failure', async () => {
    const client = await connect(toolsOnlyServer(), false);
    await client.close();
    const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: 60_000, clock: new ManualClock() });
    expect(result.healthy).toBe(false);
    expect(result.step).toBe('ping');
    expect(result.error).toMatchObject({ message: 'Not connected' });
  });
});
