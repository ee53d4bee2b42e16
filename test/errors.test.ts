import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';

// A second copy of the module, as a consumer gets with the ESM and the CJS
// build side by side (the built copies are checked by test/consumer/run.mjs).
const copyPath = '../src/errors.ts?second-copy';
const copy = (await import(/* @vite-ignore */ copyPath)) as typeof errors;

describe('error branding', () => {
  it('is a separate module copy with separate classes', () => {
    expect(copy.CapacityError).not.toBe(errors.CapacityError);
  });

  it('instanceof holds across copies for the base and the exact subclass', () => {
    const error = new copy.CapacityError('gateway', 2, 'weather');
    expect(error instanceof errors.CapacityError).toBe(true);
    expect(error instanceof errors.RegistryError).toBe(true);
    expect(new errors.SessionLostError('ds') instanceof copy.SessionLostError).toBe(true);
  });

  it('instanceof fails for another subclass, a plain Error and a look-alike', () => {
    const error = new copy.CapacityError('registry', 2);
    expect(error instanceof errors.SessionLostError).toBe(false);
    expect(new Error('x') instanceof errors.RegistryError).toBe(false);
    expect({ code: 'ERR_CAPACITY' } instanceof errors.CapacityError).toBe(false);
    const nothing: unknown = null;
    expect(nothing instanceof errors.RegistryError).toBe(false);
  });

  it('a class a user derives keeps the prototype check', () => {
    class MyCapacityError extends errors.CapacityError {}
    expect(new MyCapacityError('registry', 1) instanceof MyCapacityError).toBe(true);
    expect(new errors.CapacityError('registry', 1) instanceof MyCapacityError).toBe(false);
    expect(new MyCapacityError('registry', 1) instanceof errors.CapacityError).toBe(true);
  });

  it('the brand is not enumerable, so logs and JSON stay as before', () => {
    const error = new errors.SessionRetiredError('downstream-evicted');
    expect(Object.keys(error)).toEqual(['code', 'name', 'reason']);
  });
});

describe('error fields', () => {
  it('CapacityError carries the gateway id for a gateway cap only', () => {
    expect(new errors.CapacityError('gateway', 3, 'weather').gatewayId).toBe('weather');
    expect(new errors.CapacityError('registry', 3, 'weather').gatewayId).toBeUndefined();
  });

  it('SessionRetiredError.reason is a RetireReason', () => {
    const error = new errors.SessionRetiredError('config-changed');
    expect(error.reason).toBe('config-changed');
  });
});
