/**
 * `mcp-upstream-registry/testing`: the test kit. A manual clock, a scripted
 * MCP client and a fake session factory, so your own suites can drive the
 * registry through timeouts, races and faults without a network or real time.
 *
 * @module
 */

export { ManualClock } from './manual-clock.js';
export type { ManualClockOptions, ManualClockTimerInfo } from './manual-clock.js';
export { FakeClient } from './fake-client.js';
export type { FakeAnswer, FakeCall, FakeCallToolParams, FakeMethod } from './fake-client.js';
export { createFakeFactory } from './fake-factory.js';
export type {
  FakeCloseBehaviour,
  FakeConnectionHandle,
  FakeFactoryOptions,
  FakeSessionFactory,
  PendingCreate,
} from './fake-factory.js';
