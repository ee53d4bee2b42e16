import { it } from 'vitest';

it('leaves one unref\'d timer behind', () => {
  setTimeout(() => {}, 60_000).unref();
});
