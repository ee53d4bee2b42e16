import { it } from 'vitest';

// Running when the old count-based guard took its baseline, gone ~100 ms later: it hid one leaked timer.
setTimeout(() => {}, 100);

it("leaves one ref'd interval running", () => {
  setInterval(() => {}, 60_000);
});
