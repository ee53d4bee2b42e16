/**
 * Measurement helpers shared by the scenarios.
 *
 * Throughput is measured in interleaved rounds (A, B, C, then B, C, A, ...)
 * rather than one task after the other, so that a noisy neighbour or a CPU
 * frequency change hits every variant alike; each variant reports the median
 * of its rounds. A batch runs its operations in a plain loop written by the
 * caller, so per-operation harness overhead (a function call, a timer read)
 * does not blur sub-microsecond operations.
 *
 * @module
 */

/** Runs `n` operations; timed as a whole. */
export type Batch = (n: number) => Promise<void> | void;

/** Throughput of one variant over the rounds. */
export interface RateResult {
  /** Median of the per-round rates, in operations per second. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Mean operations per round. */
  readonly opsPerRound: number;
  /** Every round's rate, in the order measured. */
  readonly samples: readonly number[];
}

/** How long to measure. */
export interface RateOptions {
  /** Rounds per variant; the median is reported. */
  readonly rounds: number;
  /** Target duration of one round of one variant, in ms. */
  readonly sampleMs: number;
  /**
   * Full GC before every round (default true). Turn off when the heap is huge
   * on purpose (P4): each full GC then takes longer than the round itself.
   */
  readonly gcBetweenRounds?: boolean;
  /** Untimed full-length rounds per variant before timing (default 1); network code needs more. */
  readonly warmupRounds?: number;
}

/** Milliseconds since an arbitrary origin, with sub-microsecond resolution. */
export function now(): number {
  return performance.now();
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A full garbage collection when the process runs with `--expose-gc`; otherwise nothing. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  // Twice: the first pass can leave objects whose finalization frees more.
  gc();
  gc();
}

/** True when `global.gc` is available. */
export function canCollectGarbage(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}


async function timeBatch(batch: Batch, n: number): Promise<number> {
  const start = now();
  await batch(n);
  return now() - start;
}

/**
 * A batch size that takes about a millisecond: long enough that reading the
 * timer once per chunk is noise, short enough to stop a round on time. Takes
 * the best of three tries at each size, so that one GC pause or preemption
 * does not shrink the chunk; this also warms the code up.
 */
async function calibrateChunk(batch: Batch): Promise<number> {
  for (let n = 1; ; n *= 2) {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) best = Math.min(best, await timeBatch(batch, n));
    if (best >= 1 || n >= 2 ** 24) return n;
  }
}

/** Runs chunks until `ms` passed; returns operations per second. */
async function timedRound(batch: Batch, chunk: number, ms: number): Promise<{ rate: number; ops: number }> {
  let ops = 0;
  const start = now();
  let elapsed = 0;
  do {
    await batch(chunk);
    ops += chunk;
    elapsed = now() - start;
  } while (elapsed < ms);
  return { rate: (ops * 1000) / elapsed, ops };
}

function summarize<K extends string>(
  names: readonly K[],
  samples: ReadonlyMap<K, number[]>,
  ops: ReadonlyMap<K, number>,
  rounds: number,
): Record<K, RateResult> {
  const result = {} as Record<K, RateResult>;
  for (const name of names) {
    const rates = samples.get(name) as number[];
    result[name] = {
      median: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      opsPerRound: Math.round((ops.get(name) as number) / rounds),
      samples: rates,
    };
  }
  return result;
}

/**
 * Measures the throughput of several variants in interleaved rounds and
 * returns the median rate of each. A full GC (when exposed) runs before every
 * round so that one variant's garbage is not collected on another's time.
 */
export async function compareRates<K extends string>(
  variants: Readonly<Record<K, Batch>>,
  options: RateOptions,
): Promise<Record<K, RateResult>> {
  const names = Object.keys(variants) as K[];
  const chunks = new Map<K, number>();
  for (const name of names) {
    const chunk = await calibrateChunk(variants[name]);
    chunks.set(name, chunk);
  }
  return interleavedRounds(names, options, (name) => timedRound(variants[name], chunks.get(name) as number, options.sampleMs));
}

/**
 * Full-length warm-up rounds of every variant (the JIT, and a peer process,
 * have seen each steady state before timing starts), then `options.rounds`
 * timed rounds in rotating order, with a full GC before each unless turned off.
 */
async function interleavedRounds<K extends string>(
  names: readonly K[],
  options: RateOptions,
  round: (name: K) => Promise<{ rate: number; ops: number }>,
): Promise<Record<K, RateResult>> {
  for (let warm = 0; warm < (options.warmupRounds ?? 1); warm++) for (const name of names) await round(name);
  const samples = new Map<K, number[]>(names.map((name) => [name, []]));
  const ops = new Map<K, number>(names.map((name) => [name, 0]));
  for (let r = 0; r < options.rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(r + i) % names.length] as K;
      if (options.gcBetweenRounds !== false) collectGarbage();
      const result = await round(name);
      samples.get(name)?.push(result.rate);
      ops.set(name, (ops.get(name) as number) + result.ops);
    }
  }
  return summarize(names, samples, ops, options.rounds);
}


/**
 * One closed-loop round: the variant keeps its workers busy until `deadline`
 * (a `now()` value) and resolves with the operations it completed.
 */
export type ClosedLoop = (deadline: number) => Promise<number>;

/**
 * Throughput of closed-loop variants (many concurrent callers, e.g. one per
 * session) in interleaved rounds, like {@link compareRates}: every round of
 * every variant runs about `sampleMs`, the order rotates from round to round,
 * and the median of the per-round rates is reported. Operations still in
 * flight at the deadline count when they finish, and the round's time runs
 * until the last of them did.
 */
export async function compareClosedLoops<K extends string>(
  variants: Readonly<Record<K, ClosedLoop>>,
  options: RateOptions,
): Promise<Record<K, RateResult>> {
  const names = Object.keys(variants) as K[];
  const round = async (name: K): Promise<{ rate: number; ops: number }> => {
    const start = now();
    const ops = await variants[name](start + options.sampleMs);
    return { rate: (ops * 1000) / (now() - start), ops };
  };
  return interleavedRounds(names, options, round);
}

/** Runs `op` in a loop per item, all items at once, until `deadline`; resolves with the total operations. */
export async function closedLoop<T>(items: readonly T[], deadline: number, op: (item: T) => Promise<unknown>): Promise<number> {
  let total = 0;
  await Promise.all(
    items.map(async (item) => {
      while (now() < deadline) {
        await op(item);
        total++;
      }
    }),
  );
  return total;
}
