/**
 * Abort helpers shared by the registry and the factories: a deadline that
 * merges a timeout with a parent signal, and a race of a promise against a signal.
 *
 * @module
 */

/** An abort signal that fires on the first of: a timeout, or a parent signal. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Clears the timer and detaches from the parent signal. Idempotent. */
  dispose(): void;
}

/**
 * A signal aborted by `parent` (with its reason) or, when `timeoutMs` is set,
 * after `timeoutMs` with a `TimeoutError` DOMException naming `what`.
 */
export function createDeadline(parent: AbortSignal, timeoutMs: number | undefined, what: string): Deadline {
  const controller = new AbortController();
  const onParentAbort = (): void => controller.abort(parent.reason);
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (parent.aborted) {
    onParentAbort();
  } else {
    parent.addEventListener('abort', onParentAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        controller.abort(new DOMException(`${what} did not finish within ${timeoutMs} ms`, 'TimeoutError'));
      }, timeoutMs);
    }
  }
  return {
    signal: controller.signal,
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal`
 * aborts; without a signal it is `promise` itself. The promise keeps running
 * (the caller must stop it); a late rejection of it is marked handled.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      promise.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
