/**
 * {@link BridgeHub}: finds the bridge of a downstream session for each new
 * upstream client, so upstream traffic reaches that session's client only.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InvalidOptionsError, SessionLostError } from '../errors.js';
import type { SessionLostEvent } from '../events.js';
import { assertKnownKeys, optionsObject, withMethods } from '../internal/validate.js';
import { type Logger, silentLogger } from '../logger.js';
import type { SessionCreateRequest } from '../request.js';
import { type BridgeRegistry, type SessionBridgeOptions, resolveBridgeOptions } from './bridge-options.js';
import { SessionBridge } from './session-bridge.js';

/** Options of {@link BridgeHub}. */
export interface BridgeHubOptions {
  /** Where bridges report delivery problems (debug) and failed gateway connects (warn). Default: silent. */
  logger?: Logger;
}

const KEYS: ReadonlySet<string> = new Set(['logger']);

/**
 * The routing table between upstream clients and downstream sessions. Create
 * one per proxy, pass its {@link BridgeHub.configureClient} to
 * `mcpSessionFactory`, and make one bridge per downstream session with
 * {@link BridgeHub.createBridge}.
 *
 * Because the registry holds one upstream session per downstream session, an
 * upstream notification or server-to-client request (sampling, elicitation,
 * roots) has exactly one downstream session it belongs to: the one whose
 * bridge configured that upstream client.
 *
 * @example
 * ```ts
 * const hub = new BridgeHub();
 * const registry = new UpstreamSessionRegistry({
 *   factory: mcpSessionFactory({ configureClient: hub.configureClient }),
 *   onSessionLost: 'fail',
 * });
 * // for each new downstream session:
 * const bridge = hub.createBridge({ registry, downstreamSessionId, gateways: [{ id: 'counter', url: 'http://127.0.0.1:3001/mcp' }] });
 * await bridge.server.connect(transport);
 * ```
 */
export class BridgeHub {
  readonly #bridges = new Map<string, SessionBridge>();
  readonly #subscriptions = new Map<BridgeRegistry, (event: SessionLostEvent) => void>();
  readonly #logger: Logger;

  constructor(options: BridgeHubOptions = {}) {
    const o: BridgeHubOptions = optionsObject('options', options);
    assertKnownKeys(o, KEYS);
    this.#logger = withMethods<Logger>('logger', o.logger, ['debug', 'info', 'warn', 'error']) ?? silentLogger;
  }

  /**
   * Pass to `mcpSessionFactory({ configureClient })`. For an upstream client
   * created for a bridged downstream session, declares that client's sampling,
   * elicitation and roots capabilities and routes its notifications and
   * requests to the session's bridge; other clients are left alone.
   */
  readonly configureClient = (client: Client, request: SessionCreateRequest): void => {
    this.#bridges.get(request.downstreamSessionId)?.configureUpstream(client, request.gatewayId);
  };

  /**
   * Pass to `mcpSessionFactory({ adoptClient })` and `stdioSessionFactory({ adoptClient })`
   * with warm spares (`RegistryOptions.spares`). A spare's client is made
   * before its downstream session exists, so `configureClient` finds no
   * bridge for it; when a bridged session takes the spare, this routes the
   * client's notifications to that session's bridge. The spare declared no
   * sampling, elicitation or roots capability upstream, and cannot now.
   */
  readonly adoptClient = (client: Client, request: SessionCreateRequest): void => {
    this.#bridges.get(request.downstreamSessionId)?.adoptUpstream(client, request.gatewayId);
  };

  /** Live bridges. */
  get size(): number {
    return this.#bridges.size;
  }

  /** The live bridge of a downstream session, if any. */
  get(downstreamSessionId: string): SessionBridge | undefined {
    return this.#bridges.get(downstreamSessionId);
  }

  /**
   * Makes the bridge of one downstream session. Throws `InvalidOptionsError`
   * for bad options or when the session already has a live bridge, and
   * `InvalidRequestError` for a malformed gateway.
   */
  createBridge(options: SessionBridgeOptions): SessionBridge {
    const resolved = resolveBridgeOptions(options);
    if (this.#bridges.has(resolved.downstreamSessionId)) {
      throw new InvalidOptionsError('downstreamSessionId', 'this downstream session already has a live bridge');
    }
    this.#subscribe(resolved.registry);
    const bridge = new SessionBridge(resolved, {
      logger: this.#logger,
      unregister: (b) => {
        if (this.#bridges.get(b.downstreamSessionId) === b) this.#bridges.delete(b.downstreamSessionId);
      },
    });
    this.#bridges.set(resolved.downstreamSessionId, bridge);
    return bridge;
  }

  /** Closes every bridge (each evicts its upstream sessions) and stops listening to registries. */
  async close(): Promise<void> {
    await Promise.all([...this.#bridges.values()].map((bridge) => bridge.close()));
    for (const [registry, handler] of this.#subscriptions) registry.off('session:lost', handler);
    this.#subscriptions.clear();
  }

  /** One `session:lost` listener per registry, however many bridges: lookups are by id. */
  #subscribe(registry: BridgeRegistry): void {
    if (this.#subscriptions.has(registry)) return;
    const handler = (event: SessionLostEvent): void => {
      if (event.policy !== 'fail') return;
      this.#bridges.get(event.downstreamSessionId)?.markLost(new SessionLostError(event.downstreamSessionId));
    };
    registry.on('session:lost', handler);
    this.#subscriptions.set(registry, handler);
  }
}
