import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { afterAll, it } from 'vitest';

// A timer still running when the tests end, cleared by an afterAll of the file itself.
const late = setTimeout(() => {}, 60_000);
afterAll(() => clearTimeout(late));

it('starts and stops a timer, an interval, a server, a socket and a child', async () => {
  clearTimeout(setTimeout(() => {}, 60_000).unref());
  const interval = setInterval(() => {}, 5);
  await new Promise((resolve) => setTimeout(resolve, 12));
  clearInterval(interval);

  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const socket = connect(address.port, '127.0.0.1');
  socket.resume();
  await once(socket, 'close');
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));

  const child = spawn(process.execPath, ['-e', ''], { stdio: 'pipe' });
  await once(child, 'close');
});
