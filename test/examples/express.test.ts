import { startProxy } from '../../examples/express/proxy.js';
import { proxySuite } from './proxy-suite.js';

proxySuite('Express', startProxy);
