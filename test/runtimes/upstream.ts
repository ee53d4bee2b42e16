/**
 * The Node upstream of the runtime smoke: the counter server of the test
 * fixtures on 127.0.0.1, port 0. Prints its URL as one line, then serves until
 * stdin closes (the parent ended), so it never outlives the smoke.
 */
import { startCounterServer } from '../fixtures/counter-server.js';

const server = await startCounterServer();
process.stdout.write(`${server.url}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void server.close().then(() => process.exit(0));
});
