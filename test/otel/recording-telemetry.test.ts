import { describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../src/session.js';
import { recordingTelemetry } from '../fixtures/recording-telemetry.js';

const session: SessionInfo = { downstreamSessionId: 'd', gatewayId: 'g', transport: 'streamable-http', key: 'k', connectionId: 1, createdAt: 0 };

describe('recordingTelemetry (fixture for the wiring tests)', () => {
  it('records hooks in order with parents, and finds spans never ended or ended twice', () => {
    const rec = recordingTelemetry();
    const acquire = rec.telemetry.acquireStart(session);
    const create = rec.telemetry.createStart(session, acquire);
    rec.telemetry.probeStart(session, acquire).end('healthy', 'ping');
    create.end('ok');
    create.end('ok');
    expect(rec.names()).toEqual(['acquireStart', 'createStart', 'probeStart', 'probeStart:end', 'createStart:end', 'createStart:end']);
    expect(rec.calls[1]).toMatchObject({ parent: 1, gatewayId: 'g' });
    expect(rec.calls[3]).toMatchObject({ outcome: 'healthy', detail: 'ping' });
    expect(rec.unended()).toEqual([1]);
    expect(rec.endedTwice()).toEqual([2]);
  });
});
