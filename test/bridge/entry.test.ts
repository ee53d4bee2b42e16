/** The `/bridge` entry holds the session bridge; the root entry does not load it. */
import { describe, expect, it } from 'vitest';
import * as bridge from '../../src/bridge/index.js';
import * as root from '../../src/index.js';

describe('entries', () => {
  it('the bridge lives at /bridge, not at the root', () => {
    for (const name of ['BridgeHub', 'SessionBridge', 'DownstreamSessions', 'httpStatusForError', 'checkHostAndOrigin', 'affinityLocator', 'forwardToOwner']) {
      expect(bridge, name).toHaveProperty(name);
    }
    for (const name of ['BridgeHub', 'SessionBridge', 'DownstreamSessions', 'httpStatusForError', 'checkHostAndOrigin', 'affinityLocator']) {
      expect(root, name).not.toHaveProperty(name);
    }
  });

  it('names the private-field transport helper as experimental', () => {
    expect(typeof bridge.experimental_markTransportInitialized).toBe('function');
    expect(bridge).not.toHaveProperty('markTransportInitialized');
  });

  it('resolves the package name to the source, as the examples import it', async () => {
    const byName = await import('mcp-upstream-registry/bridge');
    expect(byName.BridgeHub).toBe(bridge.BridgeHub);
  });
});
