import { startProxy } from '../../examples/hono/proxy.js';
import { proxySuite } from './proxy-suite.js';

proxySuite('Hono', startProxy);
