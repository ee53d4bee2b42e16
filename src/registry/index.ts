/**
 * The registry: {@link UpstreamSessionRegistry} and its per-call options.
 *
 * @module
 */
export { UpstreamSessionRegistry } from './registry.js';
export type { AcquireOptions, CloseAllOptions } from './call-options.js';
