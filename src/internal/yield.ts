/**
 * A turn of the event loop, for long synchronous work to let I/O, timers and
 * the garbage collector catch up: `setImmediate` where the runtime has it
 * (Node, Bun), else a 0 ms `setTimeout`. Not a wait on the registry's clock:
 * it must not depend on a test's `ManualClock` being advanced.
 *
 * @module
 */

type Immediate = (callback: () => void) => unknown;

export function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;
  return new Promise<void>((resolve) => {
    if (typeof immediate === 'function') immediate(resolve);
    else setTimeout(resolve, 0);
  });
}
