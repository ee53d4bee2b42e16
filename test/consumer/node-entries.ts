// The Node-only subpaths, compiled with @types/node.
import type { RedisAffinity } from 'mcp-upstream-registry/redis';
import { stdioSessionFactory } from 'mcp-upstream-registry/stdio';

export const stdio = stdioSessionFactory();
export type Affinity = RedisAffinity;
