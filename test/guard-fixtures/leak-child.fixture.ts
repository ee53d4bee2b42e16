import { spawn } from 'node:child_process';
import { it } from 'vitest';

it('leaves one child process running', () => {
  // The child exits once its stdin closes, i.e. when the vitest worker that leaked it is gone.
  const child = spawn(process.execPath, ['-e', "process.stdin.resume().on('end', () => process.exit())"], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
});
