/**
 * The one timer of a downstream session table: ends sessions nobody used for
 * `idleTimeoutMs`, and keeps the upstream sessions of sessions with an open
 * stream from the registry's idle expiry.
 *
 * @module
 */

import type { Clock, ClockTimer } from '../clock.js';

/** What the sweeper knows of one downstream session. */
export interface SessionActivity {
  /** Clock time of the last request start or end, or stream end. */
  lastActivity: number;
  /** Requests being handled now. */
  inflight: number;
  /** Open streams (GET) of the session. */
  streams: number;
}

/** How the sweeper acts on the table it serves. */
export interface SweeperTable {
  /** Every session's activity, by downstream session id. */
  entries(): Iterable<readonly [string, SessionActivity]>;
  /** Ends an idle session. */
  expire(downstreamSessionId: string): void;
  /** Refreshes the upstream sessions of a session whose stream is open. */
  keepAlive(downstreamSessionId: string): void;
}

/** Timing of a {@link SessionSweeper}. */
export interface SweeperTiming {
  /** A session with no request in flight and no open stream for this long is ended; 0: never. */
  readonly idleTimeoutMs: number;
  /** How often open-stream sessions are kept alive; 0: never. */
  readonly keepAliveIntervalMs: number;
}

/**
 * Runs one unref'd timer while the table has sessions. Each tick keeps
 * open-stream sessions alive and ends idle ones; a session is ended between
 * `idleTimeoutMs` and 1.5 x `idleTimeoutMs` after its last activity.
 */
export class SessionSweeper {
  readonly #clock: Clock;
  readonly #table: SweeperTable;
  readonly #timing: SweeperTiming;
  readonly #periodMs: number;
  #timer: ClockTimer | undefined;

  constructor(clock: Clock, table: SweeperTable, timing: SweeperTiming) {
    this.#clock = clock;
    this.#table = table;
    this.#timing = timing;
    const candidates = [timing.idleTimeoutMs > 0 ? Math.ceil(timing.idleTimeoutMs / 2) : 0, timing.keepAliveIntervalMs].filter((ms) => ms > 0);
    this.#periodMs = candidates.length === 0 ? 0 : Math.min(...candidates);
  }

  /** True while the timer is armed. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Arms the timer unless it is armed or there is nothing to do. */
  start(): void {
    if (this.#timer !== undefined || this.#periodMs === 0) return;
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#periodMs, { unref: true });
  }

  /** Stops the timer. */
  stop(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    const { idleTimeoutMs, keepAliveIntervalMs } = this.#timing;
    let remaining = 0;
    for (const [id, activity] of [...this.#table.entries()]) {
      remaining++;
      if (activity.streams > 0) {
        if (keepAliveIntervalMs > 0) this.#table.keepAlive(id);
        continue;
      }
      if (idleTimeoutMs > 0 && activity.inflight === 0 && now - activity.lastActivity >= idleTimeoutMs) {
        remaining--;
        this.#table.expire(id);
      }
    }
    if (remaining > 0) this.start();
  }
}
