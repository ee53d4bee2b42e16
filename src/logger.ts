/**
 * Structured logger. Compatible with pino (`logger.warn({ ...fields }, 'msg')`)
 * and with `console`. The registry is silent unless you pass one.
 *
 * @example
 * ```ts
 * new UpstreamSessionRegistry({ logger: pino() });
 * new UpstreamSessionRegistry({ logger: console });
 * ```
 */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const noop = (): void => {};

/** A logger that drops everything; the default. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
