/**
 * The A=5 / B=3 counter scenario, in plain JavaScript so every runtime runs it
 * as is: two downstream sessions share one gateway; A increments 5 times, B 3
 * times; each must read its own counter (5 and 3, never 8), on one upstream
 * session each. `registryModule` is the BUILT root entry, imported by the caller.
 *
 * @param {typeof import('../../dist/index.js')} registryModule
 * @param {string} url the counter server's Streamable HTTP endpoint
 * @returns {Promise<{ a: number; b: number; created: number; reused: number }>}
 */
export async function runCounterScenario(registryModule, url) {
  const { SessionCreateRequest, UpstreamSessionRegistry } = registryModule;
  const registry = new UpstreamSessionRegistry();
  let created = 0;
  let reused = 0;
  registry.on('session:created', () => created++);
  registry.on('session:reused', () => reused++);
  const requestFor = (downstreamSessionId) =>
    SessionCreateRequest.from({ downstreamSessionId, gatewayId: 'counter', url });
  const increment = (request) =>
    registry.use(request, (client) => client.callTool({ name: 'increment', arguments: {} }));
  const read = async (request) => {
    const result = await registry.use(request, (client) => client.callTool({ name: 'get', arguments: {} }));
    return Number(result.content[0].text);
  };
  try {
    const a = requestFor('downstream-a');
    const b = requestFor('downstream-b');
    for (let i = 0; i < 5; i++) await increment(a);
    for (let i = 0; i < 3; i++) await increment(b);
    return { a: await read(a), b: await read(b), created, reused };
  } finally {
    await registry.closeAll();
  }
}

/** Throws unless the scenario's outcome is the one the library promises. */
export function assertCounterOutcome(outcome) {
  const ok = outcome.a === 5 && outcome.b === 3 && outcome.created === 2 && outcome.reused === 8;
  if (!ok) throw new Error(`unexpected outcome ${JSON.stringify(outcome)}`);
}
