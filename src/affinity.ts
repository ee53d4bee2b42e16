/** A worker process that can own downstream sessions. */
export interface WorkerInfo {
  /** Stable id of the worker. */
  readonly workerId: string;
  /** Internal address other workers forward requests to, e.g. `http://10.0.0.7:3001`. */
  readonly address?: string;
}

/** Answer of {@link Affinity.claim}. */
export type ClaimResult = { readonly owned: true } | { readonly owned: false; readonly owner: WorkerInfo };

/**
 * Decides which worker owns a downstream session when a proxy runs on many
 * processes or machines. The registry asks once per downstream session and
 * remembers a positive answer, so the warm path never awaits the affinity.
 */
export interface Affinity {
  /** This worker's id. */
  readonly workerId: string;
  /** Claim the downstream session for this worker, or name the live worker that owns it. */
  claim(downstreamSessionId: string): Promise<ClaimResult>;
  /** Give up ownership (only if this worker still owns it). */
  release(downstreamSessionId: string): Promise<void>;
  /** Stop timers and connections the affinity owns. */
  close(): Promise<void>;
  /**
   * Optional: subscribe to ownership being taken over by another worker (e.g.
   * this worker stalled past its TTL). The registry then stops serving that
   * downstream session at once. Returns an unsubscribe function.
   */
  onOwnershipLost?(listener: (downstreamSessionId: string) => void): () => void;
}

const OWNED: ClaimResult = Object.freeze({ owned: true });

/**
 * Single-process affinity: this worker owns every downstream session. The default.
 */
export class LocalAffinity implements Affinity {
  readonly workerId: string;

  constructor(workerId = 'local') {
    this.workerId = workerId;
  }

  claim(_downstreamSessionId: string): Promise<ClaimResult> {
    return Promise.resolve(OWNED);
  }

  release(_downstreamSessionId: string): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
