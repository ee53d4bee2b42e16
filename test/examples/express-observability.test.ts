import { startProxy } from '../../examples/express/proxy.js';
import { observabilitySuite } from './observability-suite.js';

observabilitySuite('Express', startProxy);
