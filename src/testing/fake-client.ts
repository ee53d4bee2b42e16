import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ProbeableClient, ProbeRequestOptions } from '../probe.js';

/** Methods of {@link FakeClient} whose answers a test can program. */
export type FakeMethod = 'ping' | 'listTools' | 'listPrompts' | 'listResources' | 'callTool';

/**
 * How a {@link FakeClient} method answers.
 *
 * - `ok`: resolves with `value` (or the method's default answer when `value` is omitted).
 * - `error`: rejects with `error`.
 * - `hang`: never settles, except that it rejects with `signal.reason` when the
 *   call's `options.signal` aborts, and with the break error on {@link FakeClient.break}.
 */
export type FakeAnswer = { kind: 'ok'; value?: unknown } | { kind: 'error'; error: unknown } | { kind: 'hang' };

/** One recorded call of a {@link FakeClient}. */
export interface FakeCall {
  /** The method name, e.g. `'ping'` or `'callTool'`. */
  readonly method: FakeMethod;
  /** The request params the method got (`undefined` for `ping`). */
  readonly params?: unknown;
}

/** Params of {@link FakeClient.callTool}, as the SDK `Client.callTool` takes them. */
export interface FakeCallToolParams {
  name: string;
  arguments?: Record<string, unknown>;
}

const PROBE_METHODS = ['ping', 'listTools', 'listPrompts', 'listResources'] as const;
const OK: FakeAnswer = Object.freeze({ kind: 'ok' });
const HANG: FakeAnswer = Object.freeze({ kind: 'hang' });

// The fake's tools: a per-client counter, so a test can show that two downstream
// sessions never share an upstream session (5 + 3 must not read 8).
const TOOLS = Object.freeze([
  Object.freeze({ name: 'increment', inputSchema: Object.freeze({ type: 'object' }) }),
  Object.freeze({ name: 'get', inputSchema: Object.freeze({ type: 'object' }) }),
]);

let lastClientId = 0;

/**
 * A scripted MCP client implementing {@link ProbeableClient} plus `callTool`.
 * Every method answers `ok` until a test programs it otherwise. Its tools are a
 * counter private to this client: `increment` adds one and returns the new
 * value, `get` returns it, as text content.
 *
 * @example
 * ```ts
 * const client = new FakeClient();
 * await client.callTool({ name: 'increment' });       // { content: [{ type: 'text', text: '1' }] }
 * client.setAnswer('ping', { kind: 'hang' });          // probes now time out at ping
 * client.failProbes(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'));
 * client.break();                                      // every call now rejects, hanging ones too
 * ```
 */
export class FakeClient implements ProbeableClient {
  /** Unique and increasing across all fake clients of the process. */
  readonly id: number;
  private readonly answers = new Map<FakeMethod, FakeAnswer>();
  private readonly recorded: FakeCall[] = [];
  private readonly hanging = new Set<(error: unknown) => void>();
  private brokenWith: { error: unknown } | undefined;
  private count = 0;

  constructor() {
    lastClientId += 1;
    this.id = lastClientId;
  }

  /** Every call so far, in order, including calls after {@link break}. */
  get calls(): ReadonlyArray<FakeCall> {
    return this.recorded;
  }

  /** The value of this client's counter tool. */
  get counter(): number {
    return this.count;
  }

  /** Whether {@link break} was called. */
  get broken(): boolean {
    return this.brokenWith !== undefined;
  }

  /** Number of calls currently hanging. */
  get hangingCalls(): number {
    return this.hanging.size;
  }

  /** Programs how `method` answers from now on. */
  setAnswer(method: FakeMethod, answer: FakeAnswer): void {
    this.answers.set(method, answer);
  }

  /** Makes every probe method (`ping`, `listTools`, `listPrompts`, `listResources`) reject with `error`. */
  failProbes(error: unknown): void {
    for (const method of PROBE_METHODS) this.setAnswer(method, { kind: 'error', error });
  }

  /** Makes every probe method hang (so a probe chain times out at every step). */
  hangProbes(): void {
    for (const method of PROBE_METHODS) this.setAnswer(method, HANG);
  }

  /** Makes every probe method answer again. Does not undo {@link break}: a broken transport stays broken. */
  healthy(): void {
    for (const method of PROBE_METHODS) this.setAnswer(method, OK);
  }

  /**
   * Simulates a dead transport: hanging calls reject, and every later call
   * rejects, with `error` (default: the SDK's `McpError` ConnectionClosed,
   * -32000, which `classifyError` calls `'transport'`). Later breaks keep the first error.
   */
  break(error: unknown = new McpError(ErrorCode.ConnectionClosed, 'Connection closed')): void {
    if (this.brokenWith !== undefined) return;
    this.brokenWith = { error };
    const pending = [...this.hanging];
    this.hanging.clear();
    for (const rejectHanging of pending) rejectHanging(error);
  }

  /** MCP `ping`. Default answer: `{}`. */
  ping(options?: ProbeRequestOptions): Promise<unknown> {
    return this.answer('ping', undefined, options, () => ({}));
  }

  /** MCP `tools/list`. Default answer: the `increment` and `get` tools. */
  listTools(params?: unknown, options?: ProbeRequestOptions): Promise<unknown> {
    return this.answer('listTools', params, options, () => ({ tools: TOOLS }));
  }

  /** MCP `prompts/list`. Default answer: no prompts. */
  listPrompts(params?: unknown, options?: ProbeRequestOptions): Promise<unknown> {
    return this.answer('listPrompts', params, options, () => ({ prompts: [] }));
  }

  /** MCP `resources/list`. Default answer: no resources. */
  listResources(params?: unknown, options?: ProbeRequestOptions): Promise<unknown> {
    return this.answer('listResources', params, options, () => ({ resources: [] }));
  }

  /**
   * MCP `tools/call`, shaped like the SDK's `Client.callTool`. Default answer:
   * the counter tools (`increment`, `get`); any other name answers `isError: true`.
   * With an `ok` answer programmed, that value is returned and the counter is untouched.
   */
  callTool(params: FakeCallToolParams, _resultSchema?: unknown, options?: ProbeRequestOptions): Promise<unknown> {
    return this.answer('callTool', params, options, () => this.runTool(params));
  }

  private runTool(params: FakeCallToolParams): unknown {
    if (params.name === 'increment') this.count += 1;
    else if (params.name !== 'get') {
      return { content: [{ type: 'text', text: `Unknown tool: ${params.name}` }], isError: true };
    }
    return { content: [{ type: 'text', text: String(this.count) }] };
  }

  private answer(
    method: FakeMethod,
    params: unknown,
    options: ProbeRequestOptions | undefined,
    defaultValue: () => unknown,
  ): Promise<unknown> {
    this.recorded.push(params === undefined ? { method } : { method, params });
    if (this.brokenWith !== undefined) return Promise.reject(this.brokenWith.error);
    const signal = options?.signal;
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const answer = this.answers.get(method) ?? OK;
    switch (answer.kind) {
      case 'ok':
        return Promise.resolve('value' in answer && answer.value !== undefined ? answer.value : defaultValue());
      case 'error':
        return Promise.reject(answer.error);
      case 'hang':
        return this.hang(signal);
    }
  }

  private hang(signal: AbortSignal | undefined): Promise<never> {
    return new Promise<never>((_resolve, reject) => {
      const settle = (error: unknown): void => {
        this.hanging.delete(settle);
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = (): void => settle(signal?.reason);
      this.hanging.add(settle);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
