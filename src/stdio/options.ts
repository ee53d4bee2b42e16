/**
 * Options of {@link stdioSessionFactory}: types, defaults and validation.
 *
 * @module
 */

import process from 'node:process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DEFAULT_INHERITED_ENV_VARS } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ClientCapabilities, Implementation } from '@modelcontextprotocol/sdk/types.js';
import { InvalidOptionsError } from '../errors.js';
import { DEFAULT_CLIENT_INFO, implementationOption } from '../internal/client-info.js';
import {
  assertKnownKeys,
  flag,
  milliseconds,
  optionalFunction,
  optionalRecord,
  optionsObject,
} from '../internal/validate.js';
import type { SessionCreateRequest } from '../request.js';
import { showValue } from '../show-value.js';

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
  /**
   * Sees the client of a warm spare (`RegistryOptions.spares`) when the
   * registry hands it to a downstream session, with that session's request;
   * see `McpSessionFactoryOptions.adoptClient`.
   */
  adoptClient?: (client: Client, request: SessionCreateRequest) => void;
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
  readonly adoptClient: StdioSessionFactoryOptions['adoptClient'];
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
  'adoptClient',
  'stderr',
  'inheritEnv',
  'closeStepTimeoutMs',
  'processGroup',
  'killOnExit',
]);

const STDERR_MODES: ReadonlySet<unknown> = new Set(['inherit', 'ignore', 'pipe']);
const DEFAULT_CLOSE_STEP_MS = 2_000;

function stderr(value: unknown): StdioStderr {
  if (value === undefined) return 'ignore';
  if (typeof value === 'function' || STDERR_MODES.has(value)) return value as StdioStderr;
  throw new InvalidOptionsError('stderr', `expected 'inherit', 'ignore', 'pipe' or a function, got ${showValue(value)}`);
}

function inheritEnv(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([...DEFAULT_INHERITED_ENV_VARS]);
  if (!Array.isArray(value)) throw new InvalidOptionsError('inheritEnv', `expected an array of names, got ${showValue(value)}`);
  value.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || name.length === 0 || name.includes('=') || name.includes('\0')) {
      throw new InvalidOptionsError(`inheritEnv[${i}]`, `expected a variable name without '=' or NUL, got ${showValue(name)}`);
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
  const o: StdioSessionFactoryOptions = optionsObject('options', options);
  assertKnownKeys(o, KNOWN_KEYS);
  return Object.freeze({
    clientInfo: implementationOption('clientInfo', o.clientInfo) ?? DEFAULT_CLIENT_INFO,
    capabilities: optionalRecord<ClientCapabilities>('capabilities', o.capabilities) ?? {},
    requestTimeoutMs: milliseconds('requestTimeoutMs', o.requestTimeoutMs),
    enforceStrictCapabilities: flag('enforceStrictCapabilities', o.enforceStrictCapabilities, false),
    configureClient: optionalFunction<StdioSessionFactoryOptions['configureClient']>('configureClient', o.configureClient),
    adoptClient: optionalFunction<StdioSessionFactoryOptions['adoptClient']>('adoptClient', o.adoptClient),
    stderr: stderr(o.stderr),
    inheritEnv: inheritEnv(o.inheritEnv),
    closeStepTimeoutMs: milliseconds('closeStepTimeoutMs', o.closeStepTimeoutMs) ?? DEFAULT_CLOSE_STEP_MS,
    // Negative pids address process groups only on POSIX.
    processGroup: flag('processGroup', o.processGroup, true) && process.platform !== 'win32',
    killOnExit: flag('killOnExit', o.killOnExit, true),
  });
}
