/**
 * The tally module's built-in worker: the handler of `tally.sum` jobs. It runs in a worker thread
 * of the server (or `gatehouse worker --builtin tally`), never in the server's own thread.
 */
import type { JobHandler } from '../../src/worker/index.js';

/** `tally.sum`: `{numbers}` → `{sum, count}`. Throws on a payload that is not an array of finite numbers. */
const sum: JobHandler = async (job, ctx) => {
  const numbers = (job.payload as { numbers?: unknown }).numbers;
  if (!Array.isArray(numbers) || !numbers.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    throw new Error('payload.numbers must be an array of finite numbers');
  }
  ctx.progress(1, `${numbers.length} numbers`);
  return { sum: numbers.reduce((a: number, b: number) => a + b, 0), count: numbers.length };
};

export default { 'tally.sum': sum };
