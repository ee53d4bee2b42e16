import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { type Clock, systemClock } from '../clock.js';
import { InvalidOptionsError } from '../errors.js';
import { assertKnownKeys, flag, oneOf, optionalFunction, optionsObject, withMethods } from '../internal/validate.js';
import { showValue } from '../show-value.js';
import type { FactoryContext, SessionFactory, UpstreamConnection } from '../factory.js';
import type { SessionCreateRequest } from '../request.js';
import { FakeClient } from './fake-client.js';

/**
 * How a fake connection's `close` behaves.
 *
 * - `'ok'`: resolves at once.
 * - `'throw'`: rejects at once with an `Error`.
 * - `{ slowMs }`: resolves after `slowMs` on the factory's clock, or at once when its signal aborts.
 * - `'until-abort'`: ignores the graceful phase; resolves only when its signal aborts.
 * - `'hang'`: ignores the graceful phase and the abort; never settles.
 */
export type FakeCloseBehaviour = 'ok' | 'hang' | 'throw' | 'until-abort' | { slowMs: number };

/** Options of {@link createFakeFactory}. */
export interface FakeFactoryOptions {
  /** Clock for create latency and slow closes. Default: `systemClock`. Pass the registry's `ManualClock`. */
  clock?: Clock;
  /**
   * How long a create takes on the clock, in milliseconds (default 0). A function
   * gets the request and the 1-based number of the factory call.
   */
  createLatencyMs?: number | ((request: SessionCreateRequest, n: number) => number);
  /** Return an error to make the `n`-th create (1-based) fail with it, `undefined` to let it succeed. */
  fail?: (request: SessionCreateRequest, n: number) => unknown;
  /** Close behaviour of new connections. Default `'ok'`. */
  close?: FakeCloseBehaviour;
  /**
   * `'auto'` (default): creates finish by themselves after their latency.
   * `'manual'`: creates wait in {@link FakeSessionFactory.pending} until the
   * test calls `resolve()` or `reject()`; latency is ignored.
   */
  mode?: 'auto' | 'manual';
  /**
   * Whether connections have `updateCredentials` (default `true`): the registry
   * then rotates credentials in place. `false` simulates a connection that
   * cannot, which the registry rebuilds when the credentials change.
   */
  updateCredentials?: boolean;
}

/** A create waiting for the test, in `mode: 'manual'`. */
export interface PendingCreate {
  /** The request the factory was called with. */
  readonly request: SessionCreateRequest;
  /** The create's `ctx.signal`. */
  readonly signal: AbortSignal;
  /** Finishes the create as configured: it fails if `fail` or `failNext` said so, otherwise it connects. */
  resolve(): void;
  /** Fails the create with `error`. */
  reject(error: unknown): void;
}

/** A test's view of one connection the fake factory made. */
export interface FakeConnectionHandle {
  /** Same as `client.id`. */
  readonly id: number;
  /** The request the connection was made for. */
  readonly request: SessionCreateRequest;
  /** The connection's client. */
  readonly client: FakeClient;
  /** How many times `close` was called. The registry must call it exactly once. */
  readonly closeCalls: number;
  /** `close` was called and has not settled yet. */
  readonly closing: boolean;
  /** `close` settled (resolved, or rejected with the `'throw'` behaviour). */
  readonly closed: boolean;
  /** The close signal aborted before `close` settled (the registry forced the close). */
  readonly forced: boolean;
  /**
   * Simulates a dead upstream: breaks the client (see {@link FakeClient.break})
   * and calls the factory's `ctx.onBroken(reason)`. Default reason: `McpError`
   * ConnectionClosed (-32000).
   */
  break(reason?: unknown): void;
  /** Overrides the factory's close behaviour for this connection. */
  setCloseBehaviour(behaviour: FakeCloseBehaviour): void;
  /** The credentials the connection sends now: the request's, then the latest `updateCredentials` call's. */
  readonly credentials: Readonly<Record<string, string>>;
  /** Every `updateCredentials` call's argument, oldest first. */
  readonly credentialUpdates: readonly Readonly<Record<string, string>>[];
  /** Every `adopt` call's request (a warm spare handed to a downstream session), oldest first. */
  readonly adoptions: readonly SessionCreateRequest[];
}

/** The fake factory and its counters. */
export interface FakeSessionFactory {
  /** Pass this as `RegistryOptions.factory`. */
  readonly factory: SessionFactory<FakeClient>;
  /** Connections made. */
  readonly created: number;
  /** Connections made and not yet closed: `created - closed`. */
  readonly live: number;
  /** Connections whose `close` settled. */
  readonly closed: number;
  /** Factory invocations, successful or not. */
  readonly calls: number;
  /** Creates in progress right now. */
  readonly inProgress: number;
  /** Peak of creates in progress at the same time. */
  readonly maxConcurrentCreates: number;
  /** Every connection ever made, in creation order. */
  readonly connections: readonly FakeConnectionHandle[];
  /** In `mode: 'manual'`, creates waiting for `resolve()` or `reject()`, oldest first. */
  readonly pending: readonly PendingCreate[];
  /** Close behaviour of connections closed from now on (unless overridden per connection). */
  setCloseBehaviour(behaviour: FakeCloseBehaviour): void;
  /** Makes the next create that starts fail with `error`. Calls queue up: one error per create. */
  failNext(error: unknown): void;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['clock', 'createLatencyMs', 'fail', 'close', 'mode', 'updateCredentials']);

/**
 * A {@link SessionFactory} of {@link FakeClient}s for tests, with controllable
 * create latency and failures, scriptable close behaviour and exact counts.
 * Every create honours `ctx.signal`: it rejects with `signal.reason` when the
 * signal aborts, in both modes.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const fake = createFakeFactory({ clock, createLatencyMs: 100 });
 * const registry = new UpstreamSessionRegistry({ factory: fake.factory, clock });
 * const acquiring = registry.acquire({ downstreamSessionId: 'a', gatewayId: 'g', url: 'http://upstream/mcp' });
 * await clock.advance(100);
 * const lease = await acquiring;
 * expect(fake.created).toBe(1);
 * fake.connections[0]?.break(); // the registry retires it
 * ```
 */
export function createFakeFactory(options: FakeFactoryOptions = {}): FakeSessionFactory {
  validateOptions(options);
  return new FakeFactoryState(options);
}

class FakeFactoryState implements FakeSessionFactory {
  readonly factory: SessionFactory<FakeClient>;
  private readonly clock: Clock;
  private readonly latency: FakeFactoryOptions['createLatencyMs'];
  private readonly failWhen: FakeFactoryOptions['fail'];
  private readonly mode: 'auto' | 'manual';
  private readonly rotates: boolean;
  private closeBehaviour: FakeCloseBehaviour;
  private readonly failures: unknown[] = [];
  private readonly handles: ConnectionHandle[] = [];
  private readonly waiting: PendingCreate[] = [];
  private callCount = 0;
  private closedCount = 0;
  private notConnected: Error | undefined;
  private running = 0;
  private peak = 0;

  constructor(options: FakeFactoryOptions) {
    this.clock = options.clock ?? systemClock;
    this.latency = options.createLatencyMs;
    this.failWhen = options.fail;
    this.mode = options.mode ?? 'auto';
    this.rotates = options.updateCredentials ?? true;
    this.closeBehaviour = options.close ?? 'ok';
    this.factory = (request, ctx) => this.create(request, ctx);
  }

  get created(): number {
    return this.handles.length;
  }

  get live(): number {
    return this.handles.length - this.closedCount;
  }

  get closed(): number {
    return this.closedCount;
  }

  get calls(): number {
    return this.callCount;
  }

  get inProgress(): number {
    return this.running;
  }

  get maxConcurrentCreates(): number {
    return this.peak;
  }

  get connections(): readonly FakeConnectionHandle[] {
    return this.handles;
  }

  get pending(): readonly PendingCreate[] {
    return this.waiting;
  }

  setCloseBehaviour(behaviour: FakeCloseBehaviour): void {
    validateCloseBehaviour('close', behaviour);
    this.closeBehaviour = behaviour;
  }

  failNext(error: unknown): void {
    this.failures.push(error);
  }

  /** The behaviour a connection closed now gets; read by its handle at close time. */
  currentCloseBehaviour(): FakeCloseBehaviour {
    return this.closeBehaviour;
  }

  /** The clock slow closes run on. */
  clockForClose(): Clock {
    return this.clock;
  }

  /**
   * Called by a handle when its close settles; returns the error its client's
   * later calls reject with. One per factory: an Error per connection (and its
   * stack trace) was most of what closing 100k fake connections cost.
   */
  noteClosed(): Error {
    this.closedCount += 1;
    this.notConnected ??= new Error('Not connected');
    return this.notConnected;
  }

  private async create(request: SessionCreateRequest, ctx: FactoryContext): Promise<UpstreamConnection<FakeClient>> {
    this.callCount += 1;
    const n = this.callCount;
    this.running += 1;
    this.peak = Math.max(this.peak, this.running);
    try {
      ctx.signal.throwIfAborted();
      // Decided when the create starts, so `n` and failNext order match factory calls.
      const failure = this.plannedFailure(request, n);
      if (this.mode === 'manual') await this.waitForTest(request, ctx.signal);
      else await this.waitLatency(this.latencyOf(request, n), ctx.signal);
      ctx.signal.throwIfAborted();
      if (failure !== undefined) throw failure.error;
      return this.connect(request, ctx);
    } finally {
      this.running -= 1;
    }
  }

  private plannedFailure(request: SessionCreateRequest, n: number): { error: unknown } | undefined {
    if (this.failures.length > 0) return { error: this.failures.shift() };
    const error = this.failWhen?.(request, n);
    return error === undefined ? undefined : { error };
  }

  private latencyOf(request: SessionCreateRequest, n: number): number {
    const ms = typeof this.latency === 'function' ? this.latency(request, n) : (this.latency ?? 0);
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new InvalidOptionsError('createLatencyMs', `expected a finite number >= 0, got ${String(ms)}`);
    }
    return ms;
  }

  private waitLatency(ms: number, signal: AbortSignal): Promise<void> {
    // No timer for 0 ms, so tests without a clock to advance still get their connection.
    if (ms === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.clock.clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = this.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private waitForTest(request: SessionCreateRequest, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const settle = (finish: () => void): void => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        finish();
      };
      const onAbort = (): void => settle(() => reject(signal.reason));
      const entry: PendingCreate = Object.freeze({
        request,
        signal,
        resolve: () => settle(resolve),
        reject: (error: unknown) => settle(() => reject(error)),
      });
      this.waiting.push(entry);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private connect(request: SessionCreateRequest, ctx: FactoryContext): UpstreamConnection<FakeClient> {
    const handle = new ConnectionHandle(this, request, ctx);
    this.handles.push(handle);
    const close = (closeCtx: { signal: AbortSignal }): Promise<void> => handle.close(closeCtx);
    const adopt = (adopter: SessionCreateRequest): void => handle.adopt(adopter);
    if (!this.rotates) return Object.freeze({ client: handle.client, close, adopt });
    const updateCredentials = (credentials: Readonly<Record<string, string>>): void => handle.updateCredentials(credentials);
    return Object.freeze({ client: handle.client, close, adopt, updateCredentials });
  }
}

class ConnectionHandle implements FakeConnectionHandle {
  readonly client = new FakeClient();
  private closeCount = 0;
  private closePromise: Promise<void> | undefined;
  private settled = false;
  /**
   * The close's context. Its `signal` is read only when needed: the registry
   * makes a close signal lazily, and a fake that read it eagerly would charge
   * every close an AbortSignal a real quick close does not make (bench P4).
   * The registry never aborts a close signal after the close settled, so
   * reading it late gives the answer it had then.
   */
  private closeCtx: { readonly signal: AbortSignal } | undefined;
  private override: FakeCloseBehaviour | undefined;
  private current: Readonly<Record<string, string>>;
  private readonly updates: Readonly<Record<string, string>>[] = [];
  private readonly adopted: SessionCreateRequest[] = [];

  constructor(
    private readonly owner: FakeFactoryState,
    readonly request: SessionCreateRequest,
    private readonly ctx: FactoryContext,
  ) {
    this.current = request.credentials;
  }

  get credentials(): Readonly<Record<string, string>> {
    return this.current;
  }

  get credentialUpdates(): readonly Readonly<Record<string, string>>[] {
    return this.updates;
  }

  updateCredentials(credentials: Readonly<Record<string, string>>): void {
    this.current = credentials;
    this.updates.push(credentials);
  }

  get adoptions(): readonly SessionCreateRequest[] {
    return this.adopted;
  }

  adopt(request: SessionCreateRequest): void {
    this.adopted.push(request);
  }

  get id(): number {
    return this.client.id;
  }

  get closeCalls(): number {
    return this.closeCount;
  }

  get closing(): boolean {
    return this.closePromise !== undefined && !this.settled;
  }

  get closed(): boolean {
    return this.settled;
  }

  get forced(): boolean {
    return this.closeCtx?.signal.aborted === true;
  }

  break(reason: unknown = new McpError(ErrorCode.ConnectionClosed, 'Connection closed')): void {
    this.client.break(reason);
    this.ctx.onBroken(reason);
  }

  setCloseBehaviour(behaviour: FakeCloseBehaviour): void {
    validateCloseBehaviour('close', behaviour);
    this.override = behaviour;
  }

  close(ctx: { readonly signal: AbortSignal }): Promise<void> {
    this.closeCount += 1;
    // A second close joins the first; the count above is what tests assert on.
    if (this.closePromise !== undefined) return this.closePromise;
    this.closeCtx = ctx;
    const markClosed = (): void => {
      this.settled = true;
      this.client.break(this.owner.noteClosed());
    };
    const behaviour = this.override ?? this.owner.currentCloseBehaviour();
    this.closePromise = closeWith(behaviour, ctx, this.owner.clockForClose()).then(markClosed, (error: unknown) => {
      markClosed();
      throw error;
    });
    return this.closePromise;
  }
}

function closeWith(behaviour: FakeCloseBehaviour, ctx: { readonly signal: AbortSignal }, clock: Clock): Promise<void> {
  if (behaviour === 'ok') return Promise.resolve();
  if (behaviour === 'throw') return Promise.reject(new Error('Fake connection close failed'));
  if (behaviour === 'hang') return new Promise<void>(() => {});
  if (behaviour === 'until-abort') return untilAbort(ctx.signal);
  return slowClose(behaviour.slowMs, ctx.signal, clock);
}

function untilAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function slowClose(ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      resolve();
    };
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function validateOptions(options: FakeFactoryOptions): void {
  const o: FakeFactoryOptions = optionsObject('options', options);
  assertKnownKeys(o, OPTION_KEYS);
  withMethods<Clock>('clock', o.clock, ['setTimeout', 'clearTimeout']);
  const latency: unknown = o.createLatencyMs;
  if (latency !== undefined && typeof latency !== 'function' && !(typeof latency === 'number' && Number.isFinite(latency) && latency >= 0)) {
    throw new InvalidOptionsError('createLatencyMs', `expected a finite number >= 0 or a function, got ${showValue(latency)}`);
  }
  optionalFunction('fail', o.fail);
  if (o.close !== undefined) validateCloseBehaviour('close', o.close);
  flag('updateCredentials', o.updateCredentials, true);
  oneOf('mode', o.mode, ['auto', 'manual'], 'auto');
}

function validateCloseBehaviour(option: string, behaviour: FakeCloseBehaviour): void {
  if (behaviour === 'ok' || behaviour === 'hang' || behaviour === 'throw' || behaviour === 'until-abort') return;
  if (typeof behaviour === 'object' && behaviour !== null) {
    const ms = behaviour.slowMs;
    if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) return;
  }
  throw new InvalidOptionsError(
    option,
    `expected 'ok', 'hang', 'throw', 'until-abort' or { slowMs: number >= 0 }, got ${showValue(behaviour)}`,
  );
}
