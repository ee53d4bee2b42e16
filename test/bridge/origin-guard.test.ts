import { describe, expect, it } from 'vitest';
import { LOOPBACK_HOSTS, checkHostAndOrigin, isLoopbackHost } from '../../src/bridge/origin-guard.js';

const loopback = { allowedHosts: LOOPBACK_HOSTS };

describe('checkHostAndOrigin', () => {
  it.each(['127.0.0.1:3000', 'localhost:3000', 'LOCALHOST', '[::1]:8080', 'localhost'])('allows Host %s', (host) => {
    expect(checkHostAndOrigin({ host }, loopback)).toBeUndefined();
  });

  it.each(['evil.example', 'evil.example:3000', '127.0.0.1.evil.example', '', 'local host'])('refuses Host %j with 403', (host) => {
    expect(checkHostAndOrigin({ host }, loopback)?.status).toBe(403);
  });

  it('refuses a request without Host, and does not echo the header back', () => {
    expect(checkHostAndOrigin({}, loopback)?.status).toBe(403);
    expect(JSON.stringify(checkHostAndOrigin({ host: 'evil.example' }, loopback))).not.toContain('evil');
  });

  it('allows no Origin and, by default, only the proxy\'s own origin (host and port), refuses others', () => {
    const host = 'localhost:3000';
    expect(checkHostAndOrigin({ host, origin: 'http://localhost:3000' }, loopback)).toBeUndefined();
    expect(checkHostAndOrigin({ host, origin: 'HTTP://LOCALHOST:3000' }, loopback)).toBeUndefined();
    expect(checkHostAndOrigin({ host: 'localhost', origin: 'http://localhost' }, loopback)).toBeUndefined();
    expect(checkHostAndOrigin({ host: 'localhost', origin: 'https://localhost' }, loopback)).toBeUndefined();
    expect(checkHostAndOrigin({ host, origin: 'https://127.0.0.1' }, loopback)?.status).toBe(403);
    expect(checkHostAndOrigin({ host, origin: 'http://evil.example' }, loopback)?.status).toBe(403);
    expect(checkHostAndOrigin({ host, origin: 'null' }, loopback)?.status).toBe(403);
    expect(checkHostAndOrigin({ host, origin: 'file://localhost' }, loopback)?.status).toBe(403);
  });

  it('refuses an origin on an allowed host but another port (Origin localhost:8080, Host localhost:9999)', () => {
    expect(checkHostAndOrigin({ host: 'localhost:9999', origin: 'http://localhost:8080' }, loopback)?.status).toBe(403);
    expect(checkHostAndOrigin({ host: 'localhost:80', origin: 'https://localhost' }, loopback)?.status).toBe(403);
  });

  it('matches allowedOrigins exactly (port included) when given', () => {
    const policy = { allowedHosts: LOOPBACK_HOSTS, allowedOrigins: ['http://localhost:8080'] };
    expect(checkHostAndOrigin({ host: 'localhost:9999', origin: 'http://localhost:8080' }, policy)).toBeUndefined();
    expect(checkHostAndOrigin({ host: 'localhost:9999', origin: 'http://localhost:8081' }, policy)?.status).toBe(403);
    expect(checkHostAndOrigin({ host: 'localhost:9999', origin: 'http://localhost:9999' }, policy)?.status).toBe(403);
    expect(checkHostAndOrigin({ host: 'localhost:9999', origin: 'https://localhost:8080' }, policy)?.status).toBe(403);
  });

  it('matches allowedOrigins exactly when given, and reads fetch Headers', () => {
    const policy = { allowedHosts: ['proxy.internal'], allowedOrigins: ['https://app.example'] };
    expect(checkHostAndOrigin(new Headers({ host: 'proxy.internal', origin: 'https://app.example' }), policy)).toBeUndefined();
    expect(checkHostAndOrigin(new Headers({ host: 'proxy.internal', origin: 'http://proxy.internal' }), policy)?.status).toBe(403);
    expect(checkHostAndOrigin(new Headers({ host: 'localhost' }), policy)?.status).toBe(403);
  });
});

describe('isLoopbackHost', () => {
  it('knows the loopback names', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', 'example.com', '::'].some(isLoopbackHost)).toBe(false);
  });
});
