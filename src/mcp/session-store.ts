/**
 * Where the default factory remembers the upstream `Mcp-Session-Id` of each
 * (downstream session, gateway), so that another worker can re-attach to the
 * same upstream session after the owning worker dies.
 */

/** What is stored for one (downstream session, gateway). */
export interface UpstreamSessionRecord {
  /** The upstream's `Mcp-Session-Id`. */
  readonly sessionId: string;
  /** The negotiated MCP protocol version, sent as `mcp-protocol-version` after a re-attach. */
  readonly protocolVersion?: string;
  /** `SessionCreateRequest.fingerprint` of the request that created it; a different fingerprint never re-attaches. */
  readonly fingerprint: string;
}

/**
 * Storage for {@link UpstreamSessionRecord}s. `RedisSessionStore` (from
 * `mcp-upstream-registry/redis`) shares them across workers.
 */
export interface UpstreamSessionStore {
  get(downstreamSessionId: string, gatewayId: string): Promise<UpstreamSessionRecord | undefined>;
  set(downstreamSessionId: string, gatewayId: string, record: UpstreamSessionRecord): Promise<void>;
  delete(downstreamSessionId: string, gatewayId: string): Promise<void>;
}

/**
 * What a downstream client sent in its `initialize`, kept so that a worker
 * resuming the session (after its owner died or handed it over) serves it as
 * the client declared it: server-to-client requests (sampling, elicitation,
 * roots) keep working without the client re-initializing.
 */
export interface DownstreamClientRecord {
  /** The protocol version the client asked for. */
  readonly protocolVersion?: string;
  /** The client's `capabilities`, as sent (JSON). */
  readonly capabilities: Readonly<Record<string, unknown>>;
  /** The client's `clientInfo`, as sent (JSON). */
  readonly clientInfo?: Readonly<Record<string, unknown>>;
}

/**
 * Storage for {@link DownstreamClientRecord}s, one per downstream session:
 * `DownstreamSessions` writes it after an `initialize` and reads it on resume.
 * `RedisSessionStore` implements it next to the upstream records (same TTL,
 * same owner check, deleted with them).
 */
export interface DownstreamClientStore {
  getClient(downstreamSessionId: string): Promise<DownstreamClientRecord | undefined>;
  setClient(downstreamSessionId: string, record: DownstreamClientRecord): Promise<void>;
}
