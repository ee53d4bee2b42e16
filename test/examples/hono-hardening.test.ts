import { startProxy } from '../../examples/hono/proxy.js';
import { hardeningSuite } from './hardening-suite.js';

hardeningSuite('Hono', startProxy);
