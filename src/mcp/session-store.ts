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
