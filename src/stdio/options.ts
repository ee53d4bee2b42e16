/**
 * Options of {@link stdioSessionFactory}: types, defaults and validation.
 *
 * @module
 */

import { DEFAULT_INHERITED_ENV_VARS } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ClientCapabilities, Implementation } from '@modelcontextprotocol/sdk/types.js';
import process from 'node:process';
import { InvalidOptionsError } from '../errors.js';
import type { SessionCreateRequest } from '../request.js';

/** Where a stderr line came from; identity only, never the command line or env. */
export interface StdioStderrSource {
  /** Pid of the child that wrote the line. */
  readonly pid: number;
  readonly gatewayId: string;
  readonly downstreamSessionId: string;
}

/** Receives the child's stderr one line at a time (without the line break; at most 8 KiB per call). */
export type StdioStderrHandler = (line: string, source: StdioStderrSource) => void;

/**
 * What happens to the child's stderr.
 *
 * - `'ignore'` (default): discarded; servers often print configuration (and so secrets) there.
 * - `'inherit'`: written to this process's stderr.
 * - `'pipe'`: a readable stream at `stdioProcessOf(client).stderr`. You must consume it:
 *   an unread pipe fills up (about 64 KiB) and then blocks the child.
 * - a function: called with each line; exceptions it throws are swallowed.
 */
export type StdioStderr = 'inherit' | 'ignore' | 'pipe' | StdioStderrHandler;

/** Options of {@link stdioSessionFactory}. Every key is optional; unknown keys are an error. */
export interface StdioSessionFactoryOptions {
  /** Name and version this client announces in `initialize`. Default `{ name: 'mcp-upstream-registry', version: '0.1.0' }`. */
  clientInfo?: Implementation;
  /** Client capabilities announced in `initialize`. Default `{}`. */
  capabilities?: ClientCapabilities;
  /** Timeout of every request that does not pass its own `timeout`, in ms. Default: the SDK's 60 000. */
  requestTimeoutMs?: number;
  /** Make the SDK client refuse, locally, requests for capabilities the server did not advertise. Default `false`. */
  enforceStrictCapabilities?: boolean;
  /**
   * Sees each new `Client` before it connects, e.g. to register notification or
   * server-to-client request handlers. Runs before the child is spawned; if it
   * throws, the create fails and nothing is spawned.
   */
  configureClient?: (client: Client, request: SessionCreateRequest) => void | Promise<void>;
  /** What happens to the child's stderr. Default `'ignore'`. */
  stderr?: StdioStderr;
  /**
   * Names of this process's environment variables that the child inherits
   * (values starting with `()`, shell functions, are skipped). The request's
   * `stdio.env` is added on top. Default: the SDK's safe list
   * (`HOME`, `LOGNAME`, `PATH`, `SHELL`, `TERM`, `USER` on POSIX).
   */
  inheritEnv?: readonly string[];
  /**
   * Bound of each close step (stdin closed, then SIGTERM, then SIGKILL), in ms.
   * Default 2 000. A full close takes at most 3 times this.
   */
  closeStepTimeoutMs?: number;
  /**
   * Start each child in its own process group and signal the whole group, so
   * that grandchildren (e.g. the server behind `npx` or a shell) die with it.
   * Default `true`; ignored on Windows.
   */
  processGroup?: boolean;
  /**
   * SIGKILL every live child when this process exits (`process.on('exit')`).
   * Default `true`. This covers `process.exit()` and a drained event loop, not
   * signals: Node's default SIGINT/SIGTERM handling exits without `'exit'`
   * handlers, so install your own handler that awaits `registry.closeAll()`.
   */
  killOnExit?: boolean;
}

/** Options after validation and defaults. */
export interface ResolvedStdioOptions {
  readonly clientInfo: Implementation;
  readonly capabilities: ClientCapabilities;
  readonly requestTimeoutMs: number | undefined;
  readonly enforceStrictCapabilities: boolean;
  readonly configureClient: StdioSessionFactoryOptions['configureClient'];
  readonly stderr: StdioStderr;
  readonly inheritEnv: readonly string[];
  readonly closeStepTimeoutMs: number;
  readonly processGroup: boolean;
  readonly killOnExit: boolean;
}

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'clientInfo',
  'capabilities',
  'requestTimeoutMs',
  'enforceStrictCapabilities',
  'configureClient',
  'stderr',
  'inheritEnv',
  'closeStepTimeoutMs',
  'processGroup',
  'killOnExit',
]);

const STDERR_MODES: ReadonlySet<unknown> = new Set(['inherit', 'ignore', 'pipe']);
/** Largest delay a timer can hold; longer ones fire at once in Node. */
const MAX_TIMER_MS = 2_147_483_647;
const DEFAULT_CLOSE_STEP_MS = 2_000;
const DEFAULT_CLIENT_INFO: Implementation = Object.freeze({ name: 'mcp-upstream-registry', version: '0.1.0' });

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return Array.isArray(value) ? 'an array' : typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function milliseconds(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new InvalidOptionsError(name, `expected a number of milliseconds > 0, at most ${MAX_TIMER_MS}, got ${show(value)}`);
  }
  return value;
}

function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionsError(name, `expected a boolean, got ${show(value)}`);
  return value;
}

function clientInfo(value: unknown): Implementation {
  if (value === undefined) return DEFAULT_CLIENT_INFO;
  if (!isObject(value) || typeof value.name !== 'string' || typeof value.version !== 'string') {
    throw new InvalidOptionsError('clientInfo', `expected { name: string, version: string }, got ${show(value)}`);
  }
  return value as Implementation;
}

function capabilities(value: unknown): ClientCapabilities {
  if (value === undefined) return {};
  if (!isObject(value)) throw new InvalidOptionsError('capabilities', `expected an object, got ${show(value)}`);
  return value as ClientCapabilities;
}

function configureClient(value: unknown): StdioSessionFactoryOptions['configureClient'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new InvalidOptionsError('configureClient', `expected a function, got ${show(value)}`);
  return value as StdioSessionFactoryOptions['configureClient'];
}

function stderr(value: unknown): StdioStderr {
  if (value === undefined) return 'ignore';
  if (typeof value === 'function' || STDERR_MODES.has(value)) return value as StdioStderr;
  throw new InvalidOptionsError('stderr', `expected 'inherit', 'ignore', 'pipe' or a function, got ${show(value)}`);
}

function inheritEnv(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([...DEFAULT_INHERITED_ENV_VARS]);
  if (!Array.isArray(value)) throw new InvalidOptionsError('inheritEnv', `expected an array of names, got ${show(value)}`);
  value.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || name.length === 0 || name.includes('=') || name.includes('\0')) {
      throw new InvalidOptionsError(`inheritEnv[${i}]`, `expected a variable name without '=' or NUL, got ${show(name)}`);
    }
  });
  return Object.freeze([...(value as string[])]);
}

/**
 * Validates `options` and fills in defaults.
 *
 * @throws `InvalidOptionsError` on an unknown key or a malformed value.
 */
export function resolveStdioOptions(options: StdioSessionFactoryOptions | undefined): ResolvedStdioOptions {
  if (options === undefined) options = {};
  if (!isObject(options)) throw new InvalidOptionsError('options', `expected an object, got ${show(options)}`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) throw new InvalidOptionsError(/^[\w.$-]{1,64}$/.test(key) ? key : show(key), 'unknown option');
  }
  return Object.freeze({
    clientInfo: clientInfo(options.clientInfo),
    capabilities: capabilities(options.capabilities),
    requestTimeoutMs: milliseconds('requestTimeoutMs', options.requestTimeoutMs),
    enforceStrictCapabilities: flag('enforceStrictCapabilities', options.enforceStrictCapabilities, false),
    configureClient: configureClient(options.configureClient),
    stderr: stderr(options.stderr),
    inheritEnv: inheritEnv(options.inheritEnv),
    closeStepTimeoutMs: milliseconds('closeStepTimeoutMs', options.closeStepTimeoutMs) ?? DEFAULT_CLOSE_STEP_MS,
    // Negative pids address process groups only on POSIX.
    processGroup: flag('processGroup', options.processGroup, true) && process.platform !== 'win32',
    killOnExit: flag('killOnExit', options.killOnExit, true),
  });
}
