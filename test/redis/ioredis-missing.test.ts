import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError } from '../../src/errors.js';

// `ioredis` is a devDependency here, so "not installed" is simulated: the
// resolver the /redis subpath uses cannot find it.
vi.mock('node:module', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:module')>();
  return {
    ...actual,
    createRequire: (from: string) => {
      const require = actual.createRequire(from);
      const resolve = (id: string) => {
        if (id === 'ioredis') throw Object.assign(new Error("Cannot find module 'ioredis'"), { code: 'MODULE_NOT_FOUND' });
        return require.resolve(id);
      };
      return Object.assign(require, { resolve });
    },
  };
});

const { RedisAffinity } = await import('../../src/redis/affinity.js');
const { assertIoredisInstalled } = await import('../../src/redis/client.js');

describe('ioredis not installed', () => {
  it('RedisAffinity with a redis:// URL fails in the constructor with a config error naming the fix', () => {
    let error: unknown;
    try {
      new RedisAffinity({ redis: 'redis://127.0.0.1:6379' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).option).toBe('redis');
    expect((error as Error).message).toContain('npm install ioredis');
  });

  it('ioredis options fail the same way; a client you made needs no resolve', () => {
    expect(() => new RedisAffinity({ redis: { host: '127.0.0.1' } })).toThrow(/npm install ioredis/);
    const resolve = vi.fn(() => '');
    const client = { call: async () => null, quit: async () => 'OK' };
    assertIoredisInstalled(client as never, resolve);
    expect(resolve).not.toHaveBeenCalled();
  });
});
