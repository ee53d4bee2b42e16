import { startProxy } from '../../examples/hono/proxy.js';
import { observabilitySuite } from './observability-suite.js';

observabilitySuite('Hono', startProxy);
