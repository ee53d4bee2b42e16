/**
 * How long and how large each scenario runs, in full and `--quick` mode.
 *
 * @module
 */

import type { RateOptions } from './harness.js';

/** Sizes and durations of one run. */
export interface Settings {
  readonly mode: 'full' | 'quick';
  /** In-process micro benchmarks (P1, P4 acquire). */
  readonly rates: RateOptions;
  /** Tool calls over plain loopback (P2/P3). */
  readonly loopbackRates: RateOptions;
  /** Tool calls with added latency (P2/P3); each call takes tens of ms. */
  readonly latencyRates: RateOptions;
  /** Added to every upstream HTTP exchange in the second P2/P3 run, in ms. */
  readonly addedLatencyMs: number;
  /** Live sessions of P4 (the issue asks for 100k; --quick uses fewer), and the smaller size it is compared with. */
  readonly scaleSessions: number;
  readonly scaleSmallSessions: number;
  /** Timed evictions in P4, per size. */
  readonly scaleEvictions: number;
  /** Snapshots timed in P4, per size. */
  readonly scaleSnapshots: number;
  /** Runs of P5 and P6. */
  readonly closeRuns: number;
  readonly deadRuns: number;
  /** Downstream sessions of the P7 storm (the issue asks for 1,000; --quick uses fewer). */
  readonly stormSessions: number;
  /** Calls through the example proxies (P8): closed-loop rounds, all sessions calling at once. */
  readonly proxyRates: RateOptions;
  /** Concurrent downstream sessions of P8 (the issue asks for 1, 50 and 500). */
  readonly proxySessions: readonly number[];
  /** Cold starts through the stdio gateway (P9), and of each baseline. */
  readonly coldStartRuns: number;
}

/** Settings for a mode. */
export function settingsFor(mode: 'full' | 'quick'): Settings {
  if (mode === 'quick') {
    return {
      mode,
      rates: { rounds: 3, sampleMs: 100 },
      loopbackRates: { rounds: 3, sampleMs: 300 },
      latencyRates: { rounds: 2, sampleMs: 500 },
      addedLatencyMs: 20,
      scaleSessions: 50_000,
      scaleSmallSessions: 5_000,
      scaleEvictions: 20,
      scaleSnapshots: 3,
      closeRuns: 3,
      deadRuns: 3,
      stormSessions: 300,
      proxyRates: { rounds: 3, sampleMs: 500 },
      proxySessions: [1, 50],
      coldStartRuns: 5,
    };
  }
  return {
    mode,
    rates: { rounds: 9, sampleMs: 300 },
    loopbackRates: { rounds: 15, sampleMs: 600, warmupRounds: 3 },
    latencyRates: { rounds: 7, sampleMs: 1_500 },
    addedLatencyMs: 20,
    scaleSessions: 100_000,
    scaleSmallSessions: 10_000,
    scaleEvictions: 100,
    scaleSnapshots: 7,
    closeRuns: 7,
    deadRuns: 7,
    stormSessions: 1_000,
    proxyRates: { rounds: 5, sampleMs: 1_000, warmupRounds: 1 },
    proxySessions: [1, 50, 500],
    coldStartRuns: 15,
  };
}
