import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, InvalidRequestError } from '../../src/errors.js';
import type { UpstreamConnection } from '../../src/factory.js';
import { SessionCreateRequest } from '../../src/request.js';
import { StdioSpawnError, stdioProcessOf, stdioSessionFactory } from '../../src/stdio/index.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { trackedOnExitCount } from '../../src/stdio/exit-guard.js';
import {
  callText,
  childPids,
  expectNoSuchProcess,
  fixtureRequest,
  isDead,
  processState,
  recordingContext,
  useBundledFixture,
} from './helpers.js';

const CONNECTION_CLOSED = -32000;
const REQUEST_TIMEOUT = -32001;

const open: UpstreamConnection<Client>[] = [];
let baselineChildren: number[] = [];

function track(connection: UpstreamConnection<Client>): UpstreamConnection<Client> {
  open.push(connection);
  return connection;
}

function pidOf(connection: UpstreamConnection<Client>): number {
  const info = stdioProcessOf(connection.client);
  if (info === undefined) throw new Error('no stdio process behind this client');
  return info.pid;
}

/** Children spawned since the test began (this worker may have its own). */
function newChildren(): number[] {
  return childPids().filter((pid) => !baselineChildren.includes(pid));
}

let disposeFixture: () => void;
beforeAll(() => {
  disposeFixture = useBundledFixture();
});
afterAll(() => disposeFixture());

beforeEach(() => {
  baselineChildren = childPids();
});

afterEach(async () => {
  const aborted = AbortSignal.abort();
  await Promise.all(open.splice(0).map((connection) => connection.close({ signal: aborted })));
  expect(newChildren()).toEqual([]);
});

describe('stdioSessionFactory', () => {
  it('gives every connection its own child, with its own state', async () => {
    const factory = stdioSessionFactory();
    const [a, b] = await Promise.all([
      factory(fixtureRequest('session-a'), recordingContext()).then(track),
      factory(fixtureRequest('session-b'), recordingContext()).then(track),
    ]);
    for (let i = 0; i < 5; i++) await callText(a.client, 'increment');
    for (let i = 0; i < 3; i++) await callText(b.client, 'increment');

    expect(await callText(a.client, 'get')).toBe('5');
    expect(await callText(b.client, 'get')).toBe('3');
    expect(pidOf(a)).not.toBe(pidOf(b));
    expect(await callText(a.client, 'pid')).toBe(String(pidOf(a)));
    expect(newChildren().sort()).toEqual([pidOf(a), pidOf(b)].sort());
  });

  it('close ends stdin; the child exits by itself and is reaped before close resolves', async () => {
    const ctx = recordingContext();
    const connection = await stdioSessionFactory()(fixtureRequest('s1'), ctx);
    const info = stdioProcessOf(connection.client)!;

    await connection.close({ signal: new AbortController().signal });

    expectNoSuchProcess(info.pid);
    expect(await info.exited).toEqual({ code: 0, signal: null });
    // Its own close is no breakage.
    expect(ctx.broken).toEqual([]);
  });

  it('SIGKILLs a child that ignores stdin close and SIGTERM, within the step bounds, leaving no zombie', async () => {
    const lines: string[] = [];
    const factory = stdioSessionFactory({ closeStepTimeoutMs: 200, stderr: (line) => lines.push(line) });
    const connection = await factory(
      fixtureRequest('s1', { modes: ['IGNORE_SIGTERM', 'IGNORE_STDIN_CLOSE'] }),
      recordingContext(),
    );
    const info = stdioProcessOf(connection.client)!;

    await connection.close({ signal: new AbortController().signal });

    expectNoSuchProcess(info.pid);
    expect(await info.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // It did receive the SIGTERM first.
    expect(lines).toContain('ignoring SIGTERM');
  });

  it('sends SIGTERM to a child that ignores stdin close', async () => {
    const factory = stdioSessionFactory({ closeStepTimeoutMs: 200 });
    const connection = await factory(fixtureRequest('s1', { modes: ['IGNORE_STDIN_CLOSE'] }), recordingContext());
    const info = stdioProcessOf(connection.client)!;

    await connection.close({ signal: new AbortController().signal });

    expectNoSuchProcess(info.pid);
    expect(await info.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('skips the graceful steps when the close signal is already aborted', { timeout: 8_000 }, async () => {
    // Steps far longer than the test timeout: only the jump to SIGKILL lets it pass.
    const factory = stdioSessionFactory({ closeStepTimeoutMs: 60_000 });
    const connection = await factory(fixtureRequest('s1', { modes: ['IGNORE_STDIN_CLOSE'] }), recordingContext());
    const info = stdioProcessOf(connection.client)!;

    await connection.close({ signal: AbortSignal.abort() });

    expectNoSuchProcess(info.pid);
    expect(await info.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('jumps to SIGKILL when the close signal aborts during a graceful wait', { timeout: 8_000 }, async () => {
    let stdinClosed!: () => void;
    const waiting = new Promise<void>((resolve) => {
      stdinClosed = resolve;
    });
    const factory = stdioSessionFactory({
      // A step far longer than the test timeout: only the abort can end the wait.
      closeStepTimeoutMs: 60_000,
      stderr: (line) => line === 'stdin closed' && stdinClosed(),
    });
    const connection = await factory(fixtureRequest('s1', { modes: ['IGNORE_STDIN_CLOSE'] }), recordingContext());
    const info = stdioProcessOf(connection.client)!;
    const controller = new AbortController();

    const closing = connection.close({ signal: controller.signal });
    await waiting;
    controller.abort();
    await closing;

    expectNoSuchProcess(info.pid);
    expect(await info.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('reports a crashed child with onBroken and rejects the call in flight at once', { timeout: 5_000 }, async () => {
    // The call's own timeout is far beyond the test's: only the crash can end it.
    const factory = stdioSessionFactory({ requestTimeoutMs: 60_000 });
    const ctx = recordingContext();
    const connection = track(await factory(fixtureRequest('s1'), ctx));
    const pid = pidOf(connection);
    const inFlight = connection.client.callTool({ name: 'hang' });

    process.kill(pid, 'SIGKILL');

    const error = await inFlight.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(CONNECTION_CLOSED);
    const reason = await ctx.firstBroken;
    expect(reason).toBeInstanceOf(McpError);
    expect((reason as McpError).code).toBe(CONNECTION_CLOSED);
    expect((reason as McpError).message).toContain('SIGKILL');
    expect(ctx.broken).toHaveLength(1);
    expectNoSuchProcess(pid);
  });

  it('reports a child that closes its stdout, and still ends it on close', async () => {
    const ctx = recordingContext();
    const connection = await stdioSessionFactory()(fixtureRequest('s1'), ctx);
    const info = stdioProcessOf(connection.client)!;

    expect(await callText(connection.client, 'close-stdout')).toBe('closing');
    const reason = await ctx.firstBroken;
    expect((reason as McpError).code).toBe(CONNECTION_CLOSED);
    expect(processState(info.pid)).not.toBeUndefined();

    await connection.close({ signal: new AbortController().signal });
    expectNoSuchProcess(info.pid);
  });

  it('rejects a missing command with StdioSpawnError, without leaking arguments or leaving anything behind', async () => {
    const factory = stdioSessionFactory();
    const request = SessionCreateRequest.from({
      downstreamSessionId: 's1',
      gatewayId: 'missing',
      transport: 'stdio',
      stdio: { command: 'mcp-upstream-registry-no-such-command', args: ['--token=hunter2'], env: { KEY: 'hunter3' } },
    });

    const error = await factory(request, recordingContext()).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(StdioSpawnError);
    expect((error as StdioSpawnError).code).toBe('ENOENT');
    expect((error as Error).message).toContain('mcp-upstream-registry-no-such-command');
    expect((error as Error).message).toContain('not found');
    expect(JSON.stringify(error) + String((error as Error).stack)).not.toMatch(/hunter/);
    expect(trackedOnExitCount()).toBe(0);
  });

  it('times out a child that never answers initialize, and kills and reaps it before rejecting', async () => {
    const factory = stdioSessionFactory();
    const creating = factory(fixtureRequest('s1', { modes: ['NO_INIT'], connectTimeoutMs: 300 }), recordingContext());
    const spawned = newChildren();
    expect(spawned).toHaveLength(1);

    const error = await creating.then(
      () => undefined,
      (e: unknown) => e,
    );

    expect((error as Error).name).toBe('TimeoutError');
    expect((error as Error).message).toContain('300 ms');
    expectNoSuchProcess(spawned[0]!);
    expect(trackedOnExitCount()).toBe(0);
  });

  it('aborts during spawn: rejects with the signal reason, child killed and reaped', async () => {
    const factory = stdioSessionFactory();
    const ctx = recordingContext();
    const creating = factory(fixtureRequest('s1'), ctx);
    const spawned = newChildren();
    expect(spawned).toHaveLength(1);
    const reason = new Error('downstream went away');

    ctx.controller.abort(reason);

    await expect(creating).rejects.toBe(reason);
    expectNoSuchProcess(spawned[0]!);
  });

  it('aborts during initialize: rejects with the signal reason, child killed and reaped', async () => {
    let ready!: (pid: number) => void;
    const readyPid = new Promise<number>((resolve) => {
      ready = resolve;
    });
    const factory = stdioSessionFactory({
      stderr: (line, source) => line.startsWith('ready') && ready(source.pid),
    });
    const ctx = recordingContext();
    const creating = factory(fixtureRequest('s1', { modes: ['NO_INIT'] }), ctx);
    const pid = await readyPid;
    const reason = new Error('registry closed');

    ctx.controller.abort(reason);

    await expect(creating).rejects.toBe(reason);
    expectNoSuchProcess(pid);
  });

  it('does not spawn when the signal is already aborted', async () => {
    const reason = new Error('too late');
    const ctx = recordingContext();
    ctx.controller.abort(reason);
    await expect(stdioSessionFactory()(fixtureRequest('s1'), ctx)).rejects.toBe(reason);
    expect(newChildren()).toEqual([]);
  });

  it('kills the whole process group, so grandchildren die too', async () => {
    const factory = stdioSessionFactory({ closeStepTimeoutMs: 200 });
    const connection = await factory(fixtureRequest('s1'), recordingContext());
    const grandchild = Number(await callText(connection.client, 'spawn-grandchild'));
    expect(isDead(grandchild)).toBe(false);

    await connection.close({ signal: new AbortController().signal });

    // Not our child, so no exit event to await: init reaps it.
    await vi.waitFor(() => expect(isDead(grandchild)).toBe(true), { timeout: 3_000, interval: 20 });
  });

  it('applies requestTimeoutMs to calls without their own timeout', async () => {
    const factory = stdioSessionFactory({ requestTimeoutMs: 200 });
    const connection = track(await factory(fixtureRequest('s1'), recordingContext()));

    const error = await connection.client.callTool({ name: 'hang' }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect((error as McpError).code).toBe(REQUEST_TIMEOUT);
  });

  it('passes only the inherited variables and the request env to the child', async () => {
    process.env.MCP_REGISTRY_TEST_SECRET = 'not-for-children';
    try {
      const [plain, opted] = await Promise.all([
        stdioSessionFactory()(fixtureRequest('s1', { env: { OWN_VAR: '1' } }), recordingContext()).then(track),
        stdioSessionFactory({ inheritEnv: ['PATH', 'MCP_REGISTRY_TEST_SECRET'] })(
          fixtureRequest('s2'),
          recordingContext(),
        ).then(track),
      ]);
      const plainNames = JSON.parse(await callText(plain.client, 'env-names')) as string[];
      const optedNames = JSON.parse(await callText(opted.client, 'env-names')) as string[];

      expect(plainNames).toContain('OWN_VAR');
      expect(plainNames).toContain('PATH');
      expect(plainNames).not.toContain('MCP_REGISTRY_TEST_SECRET');
      expect(optedNames).toContain('MCP_REGISTRY_TEST_SECRET');
      expect(optedNames).not.toContain('HOME');
    } finally {
      delete process.env.MCP_REGISTRY_TEST_SECRET;
    }
  });

  it('hands stderr lines to a callback with the identity, and exposes a piped stderr', async () => {
    const lines: Array<{ line: string; pid: number; gatewayId: string; downstreamSessionId: string }> = [];
    let firstLine!: () => void;
    const gotLine = new Promise<void>((resolve) => {
      firstLine = resolve;
    });
    const withCallback = stdioSessionFactory({
      stderr: (line, source) => {
        lines.push({ line, ...source });
        firstLine();
      },
    });
    const piped = stdioSessionFactory({ stderr: 'pipe' });
    const [a, b] = await Promise.all([
      withCallback(fixtureRequest('s1'), recordingContext()).then(track),
      piped(fixtureRequest('s2'), recordingContext()).then(track),
    ]);
    await gotLine;

    expect(lines[0]).toEqual({
      line: `ready pid=${pidOf(a)}`,
      pid: pidOf(a),
      gatewayId: 'counter',
      downstreamSessionId: 's1',
    });
    const stream = stdioProcessOf(b.client)!.stderr;
    expect(stream).not.toBeNull();
    stream!.resume();
    expect(stdioProcessOf(a.client)!.stderr).toBeNull();
  });

  it('lets configureClient see the client before it connects; a throw spawns nothing', async () => {
    const seen: Array<{ connected: boolean; gatewayId: string }> = [];
    const factory = stdioSessionFactory({
      configureClient(client, request) {
        seen.push({ connected: client.getServerVersion() !== undefined, gatewayId: request.gatewayId });
      },
    });
    track(await factory(fixtureRequest('s1'), recordingContext()));
    expect(seen).toEqual([{ connected: false, gatewayId: 'counter' }]);

    const failing = stdioSessionFactory({
      configureClient() {
        throw new Error('bad hook');
      },
    });
    const before = newChildren().length;
    await expect(failing(fixtureRequest('s2'), recordingContext())).rejects.toThrow('bad hook');
    expect(newChildren()).toHaveLength(before);
  });

  it('rejects a request for another transport with InvalidRequestError', async () => {
    const request = SessionCreateRequest.from({ downstreamSessionId: 's1', gatewayId: 'g', url: 'http://127.0.0.1:1/mcp' });
    const error = await stdioSessionFactory()(request, recordingContext()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).field).toBe('transport');
  });

  it('rejects unknown and malformed options with InvalidOptionsError', () => {
    const bad: unknown[] = [
      { closeStepTimeout: 100 },
      { closeStepTimeoutMs: 0 },
      { requestTimeoutMs: Number.NaN },
      { stderr: 'stdout' },
      { inheritEnv: 'PATH' },
      { inheritEnv: ['A=B'] },
      { processGroup: 'yes' },
      { clientInfo: { name: 'x' } },
      { configureClient: 'nope' },
    ];
    for (const options of bad) {
      expect(() => stdioSessionFactory(options as never), JSON.stringify(options)).toThrow(InvalidOptionsError);
    }
  });
});
