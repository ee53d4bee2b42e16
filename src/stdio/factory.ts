/**
 * {@link stdioSessionFactory}: upstream MCP servers as child processes, one per
 * (downstream session, gateway).
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DEFAULT_REQUEST_TIMEOUT_MSEC } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import process from 'node:process';
import { createDeadline, raceSignal } from '../internal/abort.js';
import { DefaultTimeoutClient } from '../internal/default-timeout-client.js';
import { InvalidRequestError } from '../errors.js';
import type { FactoryContext, SessionFactory, UpstreamConnection } from '../factory.js';
import type { SessionCreateRequest, StdioCommand } from '../request.js';
import { type ChildSpec, StdioChild } from './child.js';
import { type ResolvedStdioOptions, resolveStdioOptions, type StdioSessionFactoryOptions } from './options.js';
import { setStdioProcess } from './process-info.js';
import { forwardLines } from './stderr-lines.js';
import { terminateChild } from './terminate.js';
import { ChildStdioTransport } from './transport.js';

/**
 * A {@link SessionFactory} that spawns one MCP server process per upstream
 * connection, i.e. per (downstream session, gateway), from the request's
 * `stdio` command, and talks MCP to it over stdin/stdout with an SDK `Client`.
 * So two downstream sessions never share a server process or its state.
 *
 * - Create: spawn, then `initialize`, bounded by `request.connectTimeoutMs` and
 *   the registry's signal; on failure the child is SIGKILLed and reaped before
 *   the promise rejects (a missing command rejects with `StdioSpawnError`).
 * - Death: a child that exits or closes its stdout is reported with
 *   `ctx.onBroken` (an SDK `McpError` `ConnectionClosed`), and the calls in
 *   flight on it reject at once.
 * - Close: stdin closed, then SIGTERM, then SIGKILL, each step bounded by
 *   `closeStepTimeoutMs`; straight to SIGKILL once the close signal aborts. The
 *   promise resolves only after the child has been reaped (or after SIGKILL
 *   and a last bounded wait), so no zombie is left. By default each child has
 *   its own process group, which is signalled as a whole.
 *
 * Call `registry.closeAll()` before your process exits. As a fallback, live
 * children are SIGKILLed on `process.on('exit')` (option `killOnExit`).
 *
 * @throws `InvalidOptionsError` on an unknown or malformed option.
 *
 * @example
 * ```ts
 * import { UpstreamSessionRegistry } from 'mcp-upstream-registry';
 * import { stdioSessionFactory } from 'mcp-upstream-registry/stdio';
 *
 * const registry = new UpstreamSessionRegistry({ factory: stdioSessionFactory({ closeStepTimeoutMs: 1_000 }) });
 * const result = await registry.use(
 *   {
 *     downstreamSessionId,
 *     gatewayId: 'files',
 *     transport: 'stdio',
 *     stdio: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/srv/data'] },
 *   },
 *   (client) => client.callTool({ name: 'list_directory', arguments: { path: '/srv/data' } }),
 * );
 * ```
 */
export function stdioSessionFactory(options?: StdioSessionFactoryOptions): SessionFactory<Client> {
  const resolved = resolveStdioOptions(options);
  return (request, ctx) => createConnection(resolved, request, ctx);
}

async function createConnection(
  options: ResolvedStdioOptions,
  request: SessionCreateRequest,
  ctx: FactoryContext,
): Promise<UpstreamConnection<Client>> {
  const command = stdioCommandOf(request);
  ctx.signal.throwIfAborted();
  const deadline = createDeadline(ctx.signal, request.connectTimeoutMs, 'stdio upstream start and initialize');
  const client = newClient(options);
  let child: StdioChild | undefined;
  try {
    if (options.configureClient !== undefined) {
      await raceSignal(Promise.resolve(options.configureClient(client, request)), deadline.signal);
    }
    deadline.signal.throwIfAborted();
    child = StdioChild.spawn(childSpec(options, command));
    const connection = new StdioConnection(client, child, options, ctx);
    forwardStderr(child, options, request);
    // `initialize` is bounded by the deadline, not by `requestTimeoutMs`, which is meant for calls.
    const initialize = { signal: deadline.signal, timeout: request.connectTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MSEC };
    await raceSignal(client.connect(connection.transport, initialize), deadline.signal);
    connection.markConnected();
    return connection;
  } catch (error) {
    await abandon(client, child, options.closeStepTimeoutMs);
    throw deadline.signal.aborted ? deadline.signal.reason : error;
  } finally {
    deadline.dispose();
  }
}

/** One live child + client. Reports death once, and closes in bounded steps. */
class StdioConnection implements UpstreamConnection<Client> {
  readonly client: Client;
  readonly transport: ChildStdioTransport;
  readonly #child: StdioChild;
  readonly #options: ResolvedStdioOptions;
  readonly #ctx: FactoryContext;
  #connected = false;
  #lostBeforeConnected: McpError | undefined;
  #closing: Promise<void> | undefined;

  constructor(client: Client, child: StdioChild, options: ResolvedStdioOptions, ctx: FactoryContext) {
    this.client = client;
    this.#child = child;
    this.#options = options;
    this.#ctx = ctx;
    this.transport = new ChildStdioTransport(child, (error) => this.#onLost(error));
  }

  /** Called once `initialize` succeeded: from now on a death is the registry's business. */
  markConnected(): void {
    this.#connected = true;
    const pid = this.#child.pid;
    if (pid !== undefined) {
      setStdioProcess(this.client, { pid, stderr: this.#pipedStderr(), exited: this.#child.exited });
    }
    // Died between the initialize answer and now: the create still succeeds, and the registry retires it at once.
    if (this.#lostBeforeConnected !== undefined) this.#ctx.onBroken(this.#lostBeforeConnected);
  }

  /** A warm spare now serves the downstream session of `request`: the factory's `adoptClient` sees it. */
  adopt(request: SessionCreateRequest): void {
    this.#options.adoptClient?.(this.client, request);
  }

  close(ctx: { signal: AbortSignal }): Promise<void> {
    this.#closing ??= this.#close(ctx.signal);
    return this.#closing;
  }

  async #close(signal: AbortSignal): Promise<void> {
    // Ends stdin (the first close step) and rejects whatever is still in flight.
    await this.client.close().catch(() => {});
    await terminateChild(this.#child, { stepTimeoutMs: this.#options.closeStepTimeoutMs, signal });
  }

  #onLost(error: McpError): void {
    if (this.#closing !== undefined) return;
    // Before `initialize` completed, the failure surfaces as the create's rejection instead.
    if (!this.#connected) {
      this.#lostBeforeConnected = error;
      return;
    }
    this.#ctx.onBroken(error);
  }

  #pipedStderr(): StdioChild['stderr'] {
    return this.#options.stderr === 'pipe' ? this.#child.stderr : null;
  }
}

function stdioCommandOf(request: SessionCreateRequest): StdioCommand {
  if (request.transport !== 'stdio') {
    throw new InvalidRequestError(
      'transport',
      `stdioSessionFactory serves only transport 'stdio', got '${request.transport}' (use factoryByTransport to combine factories)`,
    );
  }
  if (request.stdio === undefined) throw new InvalidRequestError('stdio', "is required for transport 'stdio'");
  return request.stdio;
}

function newClient(options: ResolvedStdioOptions): Client {
  const clientOptions = {
    capabilities: options.capabilities,
    enforceStrictCapabilities: options.enforceStrictCapabilities,
  };
  return new DefaultTimeoutClient(options.clientInfo, clientOptions, options.requestTimeoutMs);
}

function childSpec(options: ResolvedStdioOptions, command: StdioCommand): ChildSpec {
  return {
    command: command.command,
    args: command.args ?? [],
    env: childEnv(options.inheritEnv, command.env),
    cwd: command.cwd,
    stderr: typeof options.stderr === 'function' ? 'pipe' : options.stderr,
    processGroup: options.processGroup,
    killOnExit: options.killOnExit,
  };
}

/** Only the named variables of this process, then the request's own: the child never sees our secrets by accident. */
function childEnv(inherit: readonly string[], own: Readonly<Record<string, string>> | undefined): Record<string, string> {
  // A null prototype keeps a variable named `__proto__` an ordinary entry.
  const env: Record<string, string> = Object.create(null);
  for (const name of inherit) {
    const value = process.env[name];
    // Values starting with `()` are exported shell functions (the Shellshock vector); the SDK skips them too.
    if (value !== undefined && !value.startsWith('()')) env[name] = value;
  }
  if (own !== undefined) for (const [name, value] of Object.entries(own)) env[name] = value;
  return env;
}

function forwardStderr(child: StdioChild, options: ResolvedStdioOptions, request: SessionCreateRequest): void {
  const handler = options.stderr;
  const stderr = child.stderr;
  const pid = child.pid;
  if (typeof handler !== 'function' || stderr === null || pid === undefined) return;
  const source = Object.freeze({ pid, gatewayId: request.gatewayId, downstreamSessionId: request.downstreamSessionId });
  forwardLines(stderr, (line) => handler(line, source));
}

/** A create that failed: kill without ceremony, reap (bounded), and drop the client. */
async function abandon(client: Client, child: StdioChild | undefined, stepTimeoutMs: number): Promise<void> {
  await client.close().catch(() => {});
  if (child === undefined) return;
  child.kill('SIGKILL');
  await child.waitForExit(stepTimeoutMs);
  // Process group: descendants that outlived the leader.
  child.kill('SIGKILL');
}

