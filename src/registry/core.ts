/**
 * The registry's shared state and its concerns, wired together. Internal: the
 * facade (`registry.ts`) owns one and delegates to the concern it names.
 *
 * @module
 */
import type { Affinity } from '../affinity.js';
import { LocalAffinity } from '../affinity.js';
import { type Clock, systemClock } from '../clock.js';
import type { RegistryEvents } from '../events.js';
import type { SessionFactory } from '../factory.js';
import { type CloseSchedule, perPhaseSchedule } from '../internal/close.js';
import { SafeEmitter } from '../internal/emitter.js';
import { IdleList } from '../internal/idle-list.js';
import { type Logger, silentLogger } from '../logger.js';
import { mcpSessionFactory } from '../mcp/factory.js';
import { type RegistryOptions, type ResolvedOptions, resolveOptions } from '../options.js';
import { type ProbeChain, type ProbeableClient, defaultProbeChain } from '../probe.js';
import { describeError, redactError, secretValues } from '../redact.js';
import type { SessionCreateRequest } from '../request.js';
import type { SessionState } from '../session.js';
import type { RegistryTelemetry } from '../telemetry.js';
import { type Binding, isLive } from './binding.js';
import { Creator } from './create.js';
import { Gateways } from './gateways.js';
import { Leases } from './leases.js';
import { Limits } from './limits.js';
import { Ownership } from './ownership.js';
import { Retirer } from './retire.js';
import { type Totals, newTotals } from './stats.js';

export class RegistryCore<C extends ProbeableClient> {
  readonly options: ResolvedOptions;
  readonly factory: SessionFactory<C>;
  readonly affinity: Affinity;
  readonly probeChain: ProbeChain<C>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called on slow paths only, as `core.telemetry?.hook(...)`: nothing at all when unset. */
  readonly telemetry: RegistryTelemetry | undefined;
  readonly events: SafeEmitter<RegistryEvents>;
  readonly perPhase: CloseSchedule;
  readonly startedAt: number;

  /** Sessions creating or live, by key. A retired session leaves at once. */
  readonly bindings = new Map<string, Binding<C>>();
  /** Sessions draining or closing. */
  readonly retiring = new Set<Binding<C>>();
  /** Ready sessions with no lease and no waiter, least recently active first. */
  readonly idle = new IdleList<Binding<C>>();
  /** Sessions per state; terminal states only ever count up. Written by `transition()` alone. */
  readonly counts: Record<SessionState, number> = {
    creating: 0,
    ready: 0,
    probing: 0,
    draining: 0,
    closing: 0,
    closed: 0,
    failed: 0,
    orphaned: 0,
  };
  readonly totals: Totals = newTotals();
  closed = false;
  nextConnectionId = 1;
  /** Set by the facade once it subscribed to `affinity.onOwnershipLost`. */
  unsubscribeOwnership: (() => void) | undefined;

  readonly ownership: Ownership<C>;
  readonly gateways: Gateways<C>;
  readonly limits: Limits<C>;
  readonly creator: Creator<C>;
  readonly retirer: Retirer<C>;
  readonly leases: Leases<C>;

  constructor(options: RegistryOptions<C> | undefined) {
    this.options = resolveOptions(options);
    this.perPhase = perPhaseSchedule(this.options.closeTimeoutMs);
    this.clock = options?.clock ?? systemClock;
    this.logger = options?.logger ?? silentLogger;
    this.telemetry = options?.telemetry;
    this.factory = options?.factory ?? (mcpSessionFactory() as unknown as SessionFactory<C>);
    this.affinity = options?.affinity ?? new LocalAffinity();
    this.probeChain = options?.probeChain ?? (defaultProbeChain as ProbeChain<C>);
    this.events = new SafeEmitter<RegistryEvents>(this.logger);
    this.startedAt = this.clock.now();
    this.ownership = new Ownership(this);
    this.gateways = new Gateways(this);
    this.limits = new Limits(this);
    this.creator = new Creator(this);
    this.retirer = new Retirer(this);
    this.leases = new Leases(this);
  }

  /** Live sessions: ready or probing. */
  get live(): number {
    return this.counts.ready + this.counts.probing;
  }

  /** Takes a session out of every index (key, downstream, gateway, idle list). */
  unindex(binding: Binding<C>): void {
    const { key, gatewayId, downstreamSessionId } = binding.request;
    if (this.bindings.get(key) === binding) this.bindings.delete(key);
    const ds = this.ownership.get(downstreamSessionId);
    if (ds?.bindings.get(gatewayId) === binding) ds.bindings.delete(gatewayId);
    const gw = this.gateways.get(gatewayId);
    if (gw !== undefined) {
      // The gateway's live count covers exactly the live sessions in its index.
      if (gw.bindings.delete(binding) && isLive(binding.phase)) gw.live--;
      this.gateways.dropIfUnused(gw);
    }
    this.idle.delete(binding);
  }

  /** Log text of an error; with `request`, its header and credential values are redacted too. */
  describe(error: unknown, request?: SessionCreateRequest): string {
    return describeError(request === undefined ? error : this.redact(error, request));
  }

  /**
   * A copy of `error` safe to emit (event, log, `cause` of an error we create):
   * URL user info, query and fragment, and `request`'s header and credential
   * values redacted (see `redactError`).
   */
  redact(error: unknown, request: SessionCreateRequest): unknown {
    return redactError(error, secretValues(request.headers, request.credentials));
  }
}
