import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { CreateFailedError, InvalidOptionsError } from '../../src/errors.js';
import { ATTR, METRIC, otelTelemetry } from '../../src/otel/index.js';
import type { SessionInfo } from '../../src/session.js';
import type { GatewaySnapshot } from '../../src/snapshot.js';
import { countOf, otelHarness } from './harness.js';

const SECRET_DS = 'ds-secret-3f1c9e7a';

function info(gatewayId = 'weather', connectionId = 1, transport: SessionInfo['transport'] = 'streamable-http'): SessionInfo {
  return { downstreamSessionId: SECRET_DS, gatewayId, transport, key: `${SECRET_DS}|${gatewayId}`, connectionId, createdAt: 0 };
}

const counts = (live: number, creating = 0, queuedCreates = 0, backoffRemainingMs = 0): GatewaySnapshot => ({
  live,
  creating,
  queuedCreates,
  consecutiveFailures: 0,
  backoffRemainingMs,
});

let harness: ReturnType<typeof otelHarness>;
afterEach(async () => {
  await harness?.shutdown();
});

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe('otelTelemetry: registry hooks', () => {
  it('a cold acquire: claim and create are child spans of the acquire span, with durations by outcome', async () => {
    harness = otelHarness();
    const { telemetry } = harness;
    const session = info();
    // As the registry will: acquire slow path -> claim -> create -> lease.
    const acquire = telemetry.acquireStart(session);
    const claim = telemetry.claimStart(acquire);
    claim.end('owned');
    const create = telemetry.createStart(session, acquire);
    create.end('ok');
    acquire.end('ok');

    const acquireSpan = harness.span('acquire weather');
    expect(harness.span('affinity claim').parentSpanContext?.spanId).toBe(acquireSpan.spanContext().spanId);
    const createSpan = harness.span('create weather');
    expect(parentOf(createSpan)).toBe(acquireSpan.spanContext().spanId);
    expect(createSpan.spanContext().traceId).toBe(acquireSpan.spanContext().traceId);
    expect(createSpan.attributes).toMatchObject({
      [ATTR.gatewayId]: 'weather',
      [ATTR.networkTransport]: 'tcp',
      [ATTR.transport]: 'streamable-http',
      [ATTR.connectionId]: 1,
      [ATTR.outcome]: 'ok',
    });
    expect(createSpan.status.code).toBe(SpanStatusCode.UNSET);

    expect(countOf(await harness.point(METRIC.createDuration, { [ATTR.gatewayId]: 'weather', [ATTR.outcome]: 'ok' }))).toBe(1);
    expect(countOf(await harness.point(METRIC.acquireDuration, { [ATTR.outcome]: 'ok' }))).toBe(1);
    expect(countOf(await harness.point(METRIC.claimDuration, { [ATTR.outcome]: 'owned' }))).toBe(1);
  });

  it('single flight: two acquires waiting on one create make two acquire spans and one create, a child of the first', async () => {
    harness = otelHarness();
    const { telemetry } = harness;
    const first = telemetry.acquireStart(info());
    const second = telemetry.acquireStart(info());
    const create = telemetry.createStart(info(), first);
    create.end('ok');
    first.end('ok');
    second.end('ok');
    const acquires = harness.spans().filter((s) => s.name === 'acquire weather');
    expect(acquires).toHaveLength(2);
    expect(acquires[0]?.spanContext().traceId).not.toBe(acquires[1]?.spanContext().traceId);
    expect(parentOf(harness.span('create weather'))).toBe(acquires[0]?.spanContext().spanId);
    expect(countOf(await harness.point(METRIC.acquireDuration, { [ATTR.outcome]: 'ok' }))).toBe(2);
    expect(countOf(await harness.point(METRIC.createDuration, { [ATTR.outcome]: 'ok' }))).toBe(1);
  });

  it('a failed create records its outcome and error.type (the RegistryError code or the JSON-RPC code) and marks the span', async () => {
    harness = otelHarness();
    const { telemetry } = harness;
    const acquire = telemetry.acquireStart(info());
    const create = telemetry.createStart(info(), acquire);
    const error = new CreateFailedError('weather', 'boom', new Error('ECONNREFUSED'));
    create.end('error', error);
    acquire.end('error', error);
    telemetry.createStart(info('weather', 2)).end('timeout', new DOMException('Create timed out', 'TimeoutError'));
    telemetry.createStart(info('weather', 3)).end('backoff');

    const failed = await harness.point(METRIC.createDuration, { [ATTR.outcome]: 'error' });
    expect(failed?.attributes[ATTR.errorType]).toBe('ERR_CREATE_FAILED');
    const timedOut = await harness.point(METRIC.createDuration, { [ATTR.outcome]: 'timeout' });
    expect(timedOut?.attributes[ATTR.errorType]).toBe('timeout');
    expect(countOf(await harness.point(METRIC.createDuration, { [ATTR.outcome]: 'backoff' }))).toBe(1);
    expect(countOf(await harness.point(METRIC.acquireDuration, { [ATTR.errorType]: 'ERR_CREATE_FAILED' }))).toBe(1);
    const span = harness.spans().find((s) => s.attributes[ATTR.outcome] === 'backoff');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes[ATTR.errorType]).toBe('backoff');
  });

  it('a probe records its deciding step and outcome, as a child of the acquire that waited for it', async () => {
    harness = otelHarness();
    const { telemetry } = harness;
    const acquire = telemetry.acquireStart(info());
    telemetry.probeStart(info(), acquire).end('healthy', 'ping');
    acquire.end('ok');
    telemetry.probeStart(info('weather', 2)).end('unhealthy', 'tools/list', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));

    const healthy = await harness.point(METRIC.probeDuration, { [ATTR.outcome]: 'healthy' });
    expect(healthy?.attributes[ATTR.probeStep]).toBe('ping');
    const unhealthy = await harness.point(METRIC.probeDuration, { [ATTR.outcome]: 'unhealthy' });
    expect(unhealthy?.attributes[ATTR.probeStep]).toBe('tools/list');
    expect(unhealthy?.attributes[ATTR.errorType]).toBe('transport');
    const probeSpans = harness.spans().filter((s) => s.name === 'probe weather');
    expect(probeSpans).toHaveLength(2);
    expect(parentOf(probeSpans[0] as ReadableSpan)).toBe(harness.span('acquire weather').spanContext().spanId);
    expect((probeSpans[1] as ReadableSpan).status.code).toBe(SpanStatusCode.ERROR);
  });

  it('retirements count by reason; mcp.client.session.duration records the lifetime, with error.type only for a loss', async () => {
    harness = otelHarness();
    const { telemetry } = harness;
    telemetry.retired(info('weather', 1), 'idle-expired', 90_000);
    telemetry.retired(info('weather', 2), 'transport-error', 2_000);
    telemetry.retired(info('weather', 3), 'transport-error', 3_000);
    telemetry.lost(info('weather', 3), 'transport-error', 'fail');

    const idle = await harness.point(METRIC.retirements, { [ATTR.retireReason]: 'idle-expired' });
    expect(idle?.value).toBe(1);
    expect((await harness.point(METRIC.retirements, { [ATTR.retireReason]: 'transport-error' }))?.value).toBe(2);
    const lifetime = await harness.point(METRIC.sessionDuration, { [ATTR.retireReason]: 'idle-expired' });
    expect(lifetime?.value).toMatchObject({ count: 1, sum: 90 });
    expect(lifetime?.attributes[ATTR.errorType]).toBeUndefined();
    const broken = await harness.point(METRIC.sessionDuration, { [ATTR.retireReason]: 'transport-error' });
    expect(broken?.attributes).toMatchObject({ [ATTR.errorType]: 'transport-error', [ATTR.networkTransport]: 'tcp' });
    expect((await harness.point(METRIC.losses, { [ATTR.lostPolicy]: 'fail' }))?.value).toBe(1);
  });

  it('closes record their outcome; closeAll records its duration and its orphans', async () => {
    harness = otelHarness();
    const { telemetry } = harness;
    const all = telemetry.closeAllStart();
    telemetry.closeStart(info('weather', 1)).end('closed');
    telemetry.closeStart(info('weather', 2, 'stdio')).end('orphaned');
    all.end(1);

    expect(countOf(await harness.point(METRIC.closeDuration, { [ATTR.outcome]: 'closed' }))).toBe(1);
    const orphaned = await harness.point(METRIC.closeDuration, { [ATTR.outcome]: 'orphaned' });
    expect(orphaned?.attributes).toMatchObject({ [ATTR.networkTransport]: 'pipe', [ATTR.errorType]: 'orphaned' });
    expect(countOf(await harness.point(METRIC.closeAllDuration, {}))).toBe(1);
    expect((await harness.point(METRIC.closeAllOrphans, {}))?.value).toBe(1);
    expect(harness.span('closeAll').attributes[ATTR.orphans]).toBe(1);
    expect(harness.span('close weather').status.code).toBe(SpanStatusCode.UNSET);
  });

  it('ending a span twice records it once', async () => {
    harness = otelHarness();
    const create = harness.telemetry.createStart(info());
    create.end('ok');
    create.end('error', new Error('late'));
    expect(countOf(await harness.point(METRIC.createDuration, { [ATTR.outcome]: 'ok' }))).toBe(1);
    expect(await harness.point(METRIC.createDuration, { [ATTR.outcome]: 'error' })).toBeUndefined();
    expect(harness.spans()).toHaveLength(1);
  });

  it('the backoff counter counts windows per gateway', async () => {
    harness = otelHarness();
    harness.telemetry.backoff('weather', 2, 500);
    harness.telemetry.backoff('weather', 3, 1000);
    expect((await harness.point(METRIC.createBackoffs, { [ATTR.gatewayId]: 'weather' }))?.value).toBe(2);
  });
});

describe('otelTelemetry: gauges read the registry on collect', () => {
  it('sessions by gateway and state, queue depth and backoff; summed over registries; gone after detach', async () => {
    harness = otelHarness();
    let reads = 0;
    const a = new Map([
      ['weather', counts(3, 1, 2, 1500)],
      ['search', counts(1)],
    ]);
    const detachA = harness.telemetry.attach?.({
      gatewayCounts: () => {
        reads++;
        return a;
      },
    });
    const detachB = harness.telemetry.attach?.({ gatewayCounts: () => [['weather', counts(2)]] });
    expect(reads).toBe(0); // nothing is read until a reader collects

    const ready = await harness.point(METRIC.sessions, { [ATTR.gatewayId]: 'weather', [ATTR.state]: 'ready' });
    expect(ready?.value).toBe(5);
    expect(reads).toBe(1);
    expect((await harness.point(METRIC.sessions, { [ATTR.gatewayId]: 'weather', [ATTR.state]: 'creating' }))?.value).toBe(1);
    expect((await harness.point(METRIC.sessions, { [ATTR.gatewayId]: 'search', [ATTR.state]: 'ready' }))?.value).toBe(1);
    expect((await harness.point(METRIC.createQueueDepth, { [ATTR.gatewayId]: 'weather' }))?.value).toBe(2);
    expect((await harness.point(METRIC.createBackoffRemaining, { [ATTR.gatewayId]: 'weather' }))?.value).toBe(1.5);

    detachA?.();
    detachB?.();
    const readsBefore = reads;
    // A vanished gateway reads 0 (the SDK would otherwise repeat its last value).
    expect((await harness.point(METRIC.sessions, { [ATTR.gatewayId]: 'search', [ATTR.state]: 'ready' }))?.value).toBe(0);
    expect((await harness.point(METRIC.createQueueDepth, { [ATTR.gatewayId]: 'weather' }))?.value).toBe(0);
    expect(reads).toBe(readsBefore);
  });
});

describe('otelTelemetry: forwarded MCP operations and forwards to the owner', () => {
  it('a tool call: a CLIENT span named "{mcp.method.name} {target}" and mcp.client.operation.duration with gen_ai.tool.name', async () => {
    harness = otelHarness();
    const op = harness.telemetry.operationStart({ method: 'tools/call', target: 'forecast', gatewayId: 'weather', transport: 'streamable-http' });
    op.end();
    const span = harness.span('tools/call forecast');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes).toMatchObject({
      [ATTR.mcpMethodName]: 'tools/call',
      [ATTR.genAiToolName]: 'forecast',
      [ATTR.genAiOperationName]: 'execute_tool',
      [ATTR.networkTransport]: 'tcp',
      [ATTR.networkProtocolName]: 'http',
    });
    const point = await harness.point(METRIC.operationDuration, { [ATTR.mcpMethodName]: 'tools/call' });
    expect(countOf(point)).toBe(1);
    expect(point?.attributes).toEqual({
      [ATTR.mcpMethodName]: 'tools/call',
      [ATTR.genAiToolName]: 'forecast',
      [ATTR.networkTransport]: 'tcp',
      [ATTR.gatewayId]: 'weather',
    });
  });

  it('a JSON-RPC error sets error.type and rpc.response.status_code to its code; a tool error sets tool_error', async () => {
    harness = otelHarness();
    const failing = harness.telemetry.operationStart({ method: 'prompts/get', target: 'review', gatewayId: 'code', transport: 'stdio' });
    failing.end(Object.assign(new Error('Invalid params'), { code: -32602 }));
    harness.telemetry.operationStart({ method: 'tools/call', target: 'x', gatewayId: 'code', transport: 'stdio' }).end(undefined, true);
    harness.telemetry.operationStart({ method: 'tools/list', gatewayId: 'code', transport: 'stdio' }).end();

    const span = harness.span('prompts/get review');
    expect(span.attributes).toMatchObject({ [ATTR.errorType]: '-32602', [ATTR.rpcResponseStatusCode]: '-32602', [ATTR.genAiPromptName]: 'review' });
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Invalid params' });
    expect(harness.span('tools/call x').attributes[ATTR.errorType]).toBe('tool_error');
    expect(harness.span('tools/list').attributes[ATTR.networkTransport]).toBe('pipe');
    expect((await harness.point(METRIC.operationDuration, { [ATTR.errorType]: '-32602' }))?.attributes[ATTR.genAiPromptName]).toBe('review');
    expect(countOf(await harness.point(METRIC.operationDuration, { [ATTR.errorType]: 'tool_error' }))).toBe(1);
  });

  it('the status description of a failed operation never shows URL credentials or query strings, nor an HTTP status as an RPC code', () => {
    harness = otelHarness();
    const op = harness.telemetry.operationStart({ method: 'tools/list', gatewayId: 'g', transport: 'streamable-http' });
    op.end(Object.assign(new Error('Error POSTing to https://user:pw@up.example/mcp?token=s3cret (HTTP 503)'), { code: 503 }));
    const span = harness.span('tools/list');
    expect(span.status.message).toBe('Error POSTing to https://up.example/mcp (HTTP 503)');
    expect(span.attributes[ATTR.errorType]).toBe('503');
    expect(span.attributes[ATTR.rpcResponseStatusCode]).toBeUndefined();
  });

  it('a forward to the owner records its outcome and HTTP status', async () => {
    harness = otelHarness();
    harness.telemetry.forwardStart().end('ok', 200);
    harness.telemetry.forwardStart().end('refused', 508);
    expect((await harness.point(METRIC.forwardDuration, { [ATTR.outcome]: 'ok' }))?.attributes[ATTR.httpResponseStatusCode]).toBe(200);
    expect(countOf(await harness.point(METRIC.forwardDuration, { [ATTR.outcome]: 'refused' }))).toBe(1);
    expect(harness.spans().map((s) => s.kind)).toEqual([SpanKind.CLIENT, SpanKind.CLIENT]);
  });
});

describe('otelTelemetry: cardinality and secrets', () => {
  it('no metric attribute and no span attribute or name carries the downstream session id', async () => {
    harness = otelHarness();
    const { telemetry } = harness;
    const session = info();
    const acquire = telemetry.acquireStart(session);
    telemetry.claimStart(acquire).end('owned');
    telemetry.createStart(session, acquire).end('ok');
    acquire.end('ok');
    telemetry.probeStart(session).end('healthy', 'ping');
    telemetry.retired(session, 'downstream-evicted', 10);
    telemetry.lost(session, 'lost', 'reconnect');
    telemetry.closeStart(session).end('closed');
    telemetry.operationStart({ method: 'tools/call', target: 't', gatewayId: 'weather', transport: 'sse' }).end();

    const exported = JSON.stringify({
      metrics: (await harness.metrics()).map((m) => m.dataPoints.map((p) => p.attributes)),
      spans: harness.spans().map((s) => ({ name: s.name, attributes: s.attributes })),
    });
    expect(exported).toContain('weather');
    expect(exported).not.toContain(SECRET_DS);
  });
});

describe('otelTelemetry: setup', () => {
  it('with no SDK registered it uses the API no-ops: every hook runs and records nothing', () => {
    const telemetry = otelTelemetry();
    const acquire = telemetry.acquireStart(info());
    telemetry.createStart(info(), acquire).end('ok');
    telemetry.probeStart(info(), acquire).end('healthy', 'ping');
    acquire.end('ok');
    const op = telemetry.operationStart({ method: 'ping', gatewayId: 'g', transport: 'streamable-http' });
    const meta: Record<string, unknown> = {};
    op.inject(meta);
    op.end();
    telemetry.closeAllStart().end(0);
    expect(meta).toEqual({}); // a no-op span has no valid context to propagate
  });

  it('rejects unknown options and non-providers with InvalidOptionsError', () => {
    expect(() => otelTelemetry({ meterprovider: {} } as never)).toThrow(InvalidOptionsError);
    expect(() => otelTelemetry({ meterProvider: {} as never })).toThrow(/meterProvider: expected a MeterProvider, got an object/);
    expect(() => otelTelemetry({ tracerProvider: 'x' as never })).toThrow(/tracerProvider: expected a TracerProvider, got "x"/);
    expect(() => otelTelemetry(42 as never)).toThrow(/expected an object, got 42/);
  });
});
