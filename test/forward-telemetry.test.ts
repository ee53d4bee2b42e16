import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../src/errors.js';
import { forwardToOwner } from '../src/forward.js';
import { recordingTelemetry } from './fixtures/recording-telemetry.js';

const OWNER = { workerId: 'w2', address: 'http://10.0.0.2:3001' };

function post(headers: Record<string, string> = {}): Request {
  return new Request('http://proxy.test/mcp', { method: 'POST', headers, body: '{}' });
}

describe('forwardToOwner telemetry', () => {
  it('one forward span per call: ok with the owner status, refused on a loop or no address, error when unreachable', async () => {
    const rec = recordingTelemetry();
    const answer = async () => new Response('{}', { status: 202 });
    const fail = async (): Promise<Response> => {
      throw new TypeError('fetch failed');
    };
    await forwardToOwner(post(), OWNER, { telemetry: rec.telemetry, fetch: answer });
    await forwardToOwner(post({ 'x-mcp-forwarded-hops': '1' }), OWNER, { telemetry: rec.telemetry, fetch: answer });
    await forwardToOwner(post(), { workerId: 'w3' }, { telemetry: rec.telemetry, fetch: answer });
    expect((await forwardToOwner(post(), OWNER, { telemetry: rec.telemetry, fetch: fail })).status).toBe(502);
    const ends = rec.calls.filter((c) => c.name === 'forwardStart:end').map((c) => [c.outcome, c.detail]);
    expect(ends).toEqual([
      ['ok', 202],
      ['refused', 508],
      ['refused', 502],
      ['error', 502],
    ]);
    expect(rec.unended()).toEqual([]);
    expect(rec.endedTwice()).toEqual([]);
  });

  it('an aborted forward ends its span with the reason', async () => {
    const rec = recordingTelemetry();
    const controller = new AbortController();
    const hang = (_input: unknown, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    const forwarding = forwardToOwner(post(), OWNER, { telemetry: rec.telemetry, fetch: hang, signal: controller.signal });
    controller.abort(new Error('client went away'));
    await expect(forwarding).rejects.toThrow('client went away');
    expect(rec.calls.find((c) => c.name === 'forwardStart:end')).toMatchObject({ outcome: 'error' });
    expect(rec.unended()).toEqual([]);
  });

  it('rejects a telemetry option without forwardStart', async () => {
    await expect(forwardToOwner(post(), OWNER, { telemetry: {} as never })).rejects.toThrow(InvalidOptionsError);
  });
});
