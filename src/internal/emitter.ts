import mittModule, { type Emitter } from 'mitt';
import type { Logger } from '../logger.js';

// mitt's typings say ESM default export while its package is CommonJS; under
// NodeNext the default import is typed as the module object. Accept both shapes.
const mitt = ((mittModule as unknown as { default?: typeof mittModule.default }).default ??
  mittModule) as unknown as typeof mittModule.default;

type Handler<T> = (event: T) => void;

/**
 * A typed event emitter (mitt underneath) whose listeners cannot break the
 * emitter: a throwing listener is logged and the others still run.
 */
export class SafeEmitter<Events extends Record<string, unknown>> {
  readonly #bus: Emitter<Events> = mitt<Events>();
  readonly #wrapped = new Map<keyof Events, Map<Handler<never>, Handler<never>>>();
  readonly #logger: Logger;
  #listeners = 0;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** True when at least one listener is registered; lets hot paths skip building payloads. */
  get active(): boolean {
    return this.#listeners > 0;
  }

  /** True when `type` has a listener; lets callers skip building an event nobody receives. */
  listens(type: keyof Events): boolean {
    return this.#listeners > 0 && (this.#wrapped.get(type)?.size ?? 0) > 0;
  }

  on<K extends keyof Events>(type: K, handler: Handler<Events[K]>): void {
    let byHandler = this.#wrapped.get(type);
    if (byHandler === undefined) {
      byHandler = new Map();
      this.#wrapped.set(type, byHandler);
    }
    if (byHandler.has(handler as Handler<never>)) return;
    const wrapper = (event: Events[K]): void => {
      try {
        handler(event);
      } catch (error) {
        this.#logger.error({ event: String(type), error }, 'registry event listener threw');
      }
    };
    byHandler.set(handler as Handler<never>, wrapper as Handler<never>);
    this.#bus.on(type, wrapper);
    this.#listeners++;
  }

  off<K extends keyof Events>(type: K, handler: Handler<Events[K]>): void {
    const byHandler = this.#wrapped.get(type);
    const wrapper = byHandler?.get(handler as Handler<never>);
    if (byHandler === undefined || wrapper === undefined) return;
    byHandler.delete(handler as Handler<never>);
    this.#bus.off(type, wrapper as Handler<Events[K]>);
    this.#listeners--;
  }

  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    if (this.#listeners === 0) return;
    this.#bus.emit(type, event);
  }
}
