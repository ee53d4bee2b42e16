/**
 * Telemetry hooks: the narrow, runtime-neutral interface through which the
 * registry (and, later, the session bridge and `forwardToOwner`) report what
 * they do to a metrics/tracing backend. Nothing here imports OpenTelemetry;
 * `mcp-upstream-registry/otel` ships the OpenTelemetry implementation
 * (`otelTelemetry()`), and any other backend can implement the same interface.
 *
 * ## Cost model
 *
 * The registry holds `telemetry: RegistryTelemetry | undefined` and calls the
 * hooks with optional chaining (`this.#telemetry?.createStart(info)`), so with
 * no telemetry configured the warm path does no extra work and allocates
 * nothing. Hooks are called only on slow paths: an acquire that has to create,
 * probe or claim, a create, a probe, a retirement, a close, a claim, `closeAll`.
 * A warm-path acquire (healthy, recently used, owned) is never reported.
 *
 * Every `...Start` hook returns a small span handle that the caller ends exactly
 * once. Hooks and handles must not throw; an implementation that can fail must
 * catch its own errors (the registry does not guard the calls).
 *
 * ## Cardinality and secrets
 *
 * Hooks receive a {@link TelemetrySubject} (gateway id and transport) or the
 * lease's {@link SessionInfo}. The downstream session id in `SessionInfo` is a
 * bearer credential: implementations must never put it on a metric or a span.
 * No hook ever receives header values, URLs or request arguments.
 *
 * @module
 */

import type { RetireReason, SessionLostPolicy } from './events.js';
import type { TransportType } from './request.js';
import type { SessionInfo } from './session.js';
import type { GatewaySnapshot } from './snapshot.js';

/**
 * What a hook is about: a gateway and the transport of its upstream sessions.
 * A `SessionCreateRequest` and a `SessionInfo` both are one, so the registry
 * passes the object it already holds (no allocation).
 */
export interface TelemetrySubject {
  readonly gatewayId: string;
  readonly transport: TransportType;
}

/** A span handle of a hook: ended once, with the outcome and the error behind a failure. */
export interface TelemetrySpan<O extends string> {
  /** Ends the span and records its duration. A second call does nothing. */
  end(outcome: O, error?: unknown): void;
}

/** How an acquire that left the warm path ended. */
export type AcquireOutcome = 'ok' | 'error';

/**
 * How a create ended. `'ok'`: the factory delivered; `'error'`: the factory threw;
 * `'timeout'`: the create deadline aborted it; `'backoff'`: refused at once
 * because the gateway is backing off; `'retired'`: the binding was retired (or
 * the registry closed) before the create finished.
 */
export type CreateOutcome = 'ok' | 'error' | 'timeout' | 'backoff' | 'retired';

/**
 * How a health probe ended. `'healthy'`/`'unhealthy'`: the chain decided;
 * `'error'`: an application error propagated (the session stays); `'retired'`:
 * the session was retired while probing.
 */
export type ProbeOutcome = 'healthy' | 'unhealthy' | 'error' | 'retired';

/** A probe's span handle: also records the step that decided (`ProbeResult.step`). */
export interface ProbeTelemetrySpan {
  /** Ends the span. `step` is the deciding probe step, or `'none'` when no step decided. */
  end(outcome: ProbeOutcome, step: string, error?: unknown): void;
}

/**
 * How closing one upstream connection ended: `'closed'` gracefully, `'forced'`
 * after its signal aborted, `'orphaned'` when the registry stopped waiting,
 * `'error'` when `close()` rejected (the connection counts as closed anyway).
 */
export type ConnectionCloseOutcome = 'closed' | 'forced' | 'orphaned' | 'error';

/**
 * How an affinity claim ended: `'owned'`, `'not-owner'` (another live worker
 * owns it), `'unavailable'` (no answer in time), `'error'` (the affinity threw).
 */
export type ClaimOutcome = 'owned' | 'not-owner' | 'unavailable' | 'error';

/** The span handle of `closeAll()`. */
export interface CloseAllTelemetrySpan {
  /** Ends the span; `orphans` counts the connections whose close the registry stopped waiting for. */
  end(orphans: number): void;
}

/**
 * How a `forwardToOwner` call ended: `'ok'` with the owner's response status,
 * `'refused'` when it was not sent (hop limit, no owner address), `'error'`
 * when the owner could not be reached or timed out.
 */
export type ForwardOutcome = 'ok' | 'refused' | 'error';

/** The span handle of one forwarded downstream request. */
export interface ForwardTelemetrySpan {
  /** Ends the span; `status` is the HTTP status answered to the caller, when there is one. */
  end(outcome: ForwardOutcome, status?: number, error?: unknown): void;
}

/**
 * One MCP request (or notification) the bridge forwards to an upstream, for the
 * `mcp.client.operation.duration` metric and an MCP client span.
 */
export interface McpOperation extends TelemetrySubject {
  /** `mcp.method.name`, e.g. `'tools/call'`. */
  readonly method: string;
  /** The upstream tool or prompt name (`gen_ai.tool.name` / `gen_ai.prompt.name`), when the method has one. */
  readonly target?: string;
  /**
   * The downstream request's `params._meta`: a `traceparent`/`tracestate` in
   * it makes the client span a child of the downstream caller's span.
   */
  readonly downstreamMeta?: Readonly<Record<string, unknown>>;
  /** The downstream HTTP request's `traceparent` header, used when `_meta` has none. */
  readonly traceparent?: string;
  /** The downstream HTTP request's `tracestate` header, read along with `traceparent`. */
  readonly tracestate?: string;
}

/** The span handle of one forwarded MCP operation. */
export interface McpOperationSpan {
  /**
   * Writes the trace context of this operation (`traceparent`, and
   * `tracestate` when there is one) into the upstream request's `params._meta`,
   * so the upstream server continues the same trace. Other keys stay.
   */
  inject(meta: Record<string, unknown>): void;
  /**
   * Ends the span. `error`: the call failed (a JSON-RPC error becomes its code as
   * `error.type`); `toolError`: a `CallToolResult` came back with `isError: true`.
   */
  end(error?: unknown, toolError?: boolean): void;
}

/**
 * Reads the registry's live counts when a metrics backend collects (e.g. on a
 * Prometheus scrape), so gauges cost nothing between scrapes.
 */
export interface RegistryTelemetrySource {
  /** Counts per gateway: sessions live and creating, creates queued, backoff window left. */
  gatewayCounts(): Iterable<readonly [gatewayId: string, counts: GatewaySnapshot]>;
}

/**
 * Hooks the registry calls on its slow paths. Implement it to feed any metrics
 * or tracing backend; `otelTelemetry()` from `mcp-upstream-registry/otel` is
 * the OpenTelemetry one. Pass it as `RegistryOptions.telemetry`.
 *
 * Where the registry calls each hook (the wiring map, `src/registry/`). The
 * core holds the option as `telemetry: RegistryTelemetry | undefined` and
 * every call is `core.telemetry?.hook(...)`; span handles live in locals (or
 * on the claim while it is shared), never in a per-acquire object.
 *
 * | hook | file | moment |
 * | --- | --- | --- |
 * | `attach` | `registry.ts` | constructor, with a reader of the per-gateway counts (`gatewaySnapshots`, O(gateways)); the detach runs once `closeAll()` has resolved |
 * | `acquireStart` | `registry.ts` | first line of `#acquireSlow`, never before the warm-path return; ends `'ok'` with the lease, `'error'` with the rejection |
 * | `claimStart` | `ownership.ts` | `#startClaim`, only for a real claim (not `ds.owned`, not joining `ds.claim`); ends in `#settleClaim`: `'owned'`, `'not-owner'`, `'unavailable'` (timed out), else `'error'` |
 * | `createStart` | `create.ts` | `#run` after the `state !== 'creating'` check, before the backoff check; ends `'backoff'`, `'ok'` before `#succeed`, `'timeout'` / `'error'` on a factory error, `'retired'` when retired meanwhile |
 * | `backoff` | `gateways.ts` | `failed()`, next to the `gateway:backoff` event |
 * | `probeStart` | `leases.ts` | first line of `#probe` (the acquire that started `probing` passes its span); ends `'healthy'` / `'unhealthy'` with the step, `'error'` on an application error, `'retired'` (step `'none'`) when retired meanwhile |
 * | `retired` | `lifecycle.ts` | the transition into draining/closing, next to `session:retired` |
 * | `lost` | `retire.ts` | `emitLost`, next to every `session:lost` (also the create path's lost re-attach) |
 * | `closeStart` | `retire.ts` | first line of `#close` (after the drain); ends `'orphaned'`, `'error'`, `'forced'` or `'closed'`. A create that never settled has no close span: `closeAll`'s orphan count and `session:orphaned` cover it |
 * | `closeAllStart` | `registry.ts` | `closeAll()` on its first call; ends with the orphans counted while it ran |
 *
 * Parenting: the registry passes the acquire's span handle as `parent` to the
 * `claimStart`, `createStart` and `probeStart` it causes; a create started by
 * one acquire and awaited by others is a child of the first.
 */
export interface RegistryTelemetry {
  /**
   * Called once by the registry's constructor with a reader of its live counts.
   * Returns the function the registry calls when `closeAll()` is done.
   */
  attach?(source: RegistryTelemetrySource): () => void;
  /** An acquire left the warm path: it will claim, create or probe. */
  acquireStart(subject: TelemetrySubject): TelemetrySpan<AcquireOutcome>;
  /** The registry asks the affinity whether this worker owns a downstream session. */
  claimStart(parent?: TelemetrySpan<AcquireOutcome>): TelemetrySpan<ClaimOutcome>;
  /** The factory is about to be called for a new upstream session. */
  createStart(session: SessionInfo, parent?: TelemetrySpan<AcquireOutcome>): TelemetrySpan<CreateOutcome>;
  /** Creates for a gateway fail fast for `backoffMs` after `consecutiveFailures` failures. */
  backoff(gatewayId: string, consecutiveFailures: number, backoffMs: number): void;
  /** A session idle past `idleValidationMs` is being probed before it is handed out. */
  probeStart(session: SessionInfo, parent?: TelemetrySpan<AcquireOutcome>): ProbeTelemetrySpan;
  /** A session left service; `lifetimeMs` runs from the start of its create. */
  retired(session: SessionInfo, reason: RetireReason, lifetimeMs: number): void;
  /** The upstream state of a session was lost (`session:lost`). */
  lost(session: SessionInfo, reason: RetireReason, policy: SessionLostPolicy): void;
  /** The close of a retired connection begins (after its leases drained). */
  closeStart(session: SessionInfo): TelemetrySpan<ConnectionCloseOutcome>;
  /** `closeAll()` began. */
  closeAllStart(): CloseAllTelemetrySpan;
}

/**
 * Hooks of the request path outside the registry: forwarded MCP operations (the
 * session bridge) and requests forwarded to their owner worker (`forwardToOwner`).
 * `otelTelemetry()` implements both this and {@link RegistryTelemetry}.
 */
export interface ProxyTelemetry {
  /**
   * A request is about to be sent upstream. The caller calls `inject` on the
   * upstream request's `params._meta`, sends it, then `end`s the handle.
   */
  operationStart(operation: McpOperation): McpOperationSpan;
  /** A downstream request is being forwarded to the worker that owns its session. */
  forwardStart(): ForwardTelemetrySpan;
}
