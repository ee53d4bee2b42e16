import { createServer } from 'node:net';
import { it } from 'vitest';

it('leaves one listening server behind', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
