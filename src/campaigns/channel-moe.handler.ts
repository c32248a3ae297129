/**
 * The `channel-moe` built-in worker's job handlers (run in a worker thread of the server, or by
 * `gatehouse worker --builtin channel-moe`, never in the server's own thread):
 *
 * - `channel-moe.generate` `{d_in, d_out, n_kraus, mode: 'haar', seed}` → uploads the Haar-random
 *   Kraus operators as `kraus.npy` (complex128, shape `(n_kraus, d_out, d_in)`) and returns
 *   `{kraus_file_id, completeness_deviation}`.
 * - `channel-moe.minimize` `{kraus_file_id, d_in, d_out, n_kraus, seed, restarts, max_iterations,
 *   objective?}` → minimises (`objective` "min", the default) or maximises ("max") the output
 *   entropy (bits) over pure inputs from `restarts` random starts; after each start it
 *   reports progress with `metrics: {value}` (the best so far) and, when the best improved,
 *   uploads it as a checkpoint (`vector.npy`, complex128, shape `(d_in,)`); uploads the final
 *   vector as output and returns `{value, vector_file_id, iterations, restarts}`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { JobHandler, JobContext } from '../worker/index.js';
import { PermanentError } from '../worker/index.js';
import { completenessDeviation, haarChannel, minimizeOutputEntropy } from './channel/channel.js';
import { krausFromNpy, krausToNpy, readNpy, vectorToNpy } from './channel/npy.js';

function integer(payload: Record<string, unknown>, field: string, min = 1): number {
  const v = payload[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new PermanentError(`payload.${field} must be an integer ≥ ${min}`);
  return v;
}

/** Runs `work` with a private temporary directory, removed afterwards. */
async function withTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-channel-moe-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `channel-moe.generate`. */
const generate: JobHandler = async (job, ctx: JobContext) => {
  const p = job.payload as Record<string, unknown>;
  const dIn = integer(p, 'd_in');
  const dOut = integer(p, 'd_out');
  const nKraus = integer(p, 'n_kraus');
  const seed = integer(p, 'seed', 0);
  if ((p.mode ?? 'haar') !== 'haar') throw new PermanentError('payload.mode must be "haar"');
  const channel = haarChannel(dIn, dOut, nKraus, seed);
  const deviation = completenessDeviation(channel);
  await ctx.progress(0.5, 'Kraus operators drawn', { completeness_deviation: deviation });
  return withTempDir(async (dir) => {
    const file = path.join(dir, 'kraus.npy');
    await writeFile(file, krausToNpy(channel));
    const meta = await ctx.upload(file, { purpose: 'output', name: 'kraus.npy', contentType: 'application/octet-stream' });
    return { kraus_file_id: meta.id, completeness_deviation: deviation };
  });
};

/** `channel-moe.minimize`. */
const minimize: JobHandler = async (job, ctx: JobContext) => {
  const p = job.payload as Record<string, unknown>;
  const krausFileId = p.kraus_file_id;
  if (typeof krausFileId !== 'string') throw new PermanentError('payload.kraus_file_id must be a file id');
  const restarts = integer(p, 'restarts');
  const maxIterations = integer(p, 'max_iterations');
  const seed = integer(p, 'seed', 0);
  const objective = p.objective ?? 'min';
  if (objective !== 'min' && objective !== 'max') throw new PermanentError('payload.objective must be "min" or "max"');
  return withTempDir(async (dir) => {
    const krausPath = path.join(dir, 'kraus.npy');
    await ctx.download(krausFileId, krausPath);
    let channel;
    try {
      channel = krausFromNpy(readNpy(await readFile(krausPath)));
    } catch (error) {
      throw new PermanentError(`the Kraus file ${krausFileId} is not usable: ${error instanceof Error ? error.message : String(error)}`);
    }
    let checkpoints = 0;
    const result = await minimizeOutputEntropy(channel, {
      objective,
      restarts,
      maxIterations,
      seed,
      // Lets the thread's heartbeat timers run during a long start, and stops at once on cancel.
      onIterations: async () => {
        await yieldToEventLoop();
        if (ctx.signal.aborted) throw ctx.signal.reason;
      },
      onRestart: async ({ restart, best, improved }) => {
        if (improved) {
          const file = path.join(dir, `checkpoint-${++checkpoints}.npy`);
          await writeFile(file, vectorToNpy(best.vector));
          await ctx.upload(file, { purpose: 'checkpoint', name: 'vector.npy', contentType: 'application/octet-stream' });
        }
        // A pause point: waits here while the job is paused.
        await ctx.progress(restart / restarts, `start ${restart}/${restarts}: best ${best.value.toFixed(9)} bits`, { value: best.value });
      },
    });
    const out = path.join(dir, 'vector.npy');
    await writeFile(out, vectorToNpy(result.vector));
    const meta = await ctx.upload(out, { purpose: 'output', name: 'vector.npy', contentType: 'application/octet-stream' });
    return { value: result.value, vector_file_id: meta.id, iterations: result.iterations, restarts };
  });
};

export default { 'channel-moe.generate': generate, 'channel-moe.minimize': minimize };
