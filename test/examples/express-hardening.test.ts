import { startProxy } from '../../examples/express/proxy.js';
import { hardeningSuite } from './hardening-suite.js';

hardeningSuite('Express', startProxy);
