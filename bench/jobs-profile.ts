/**
 * `node --import tsx bench/jobs-profile.ts`: a CPU profile of Gatehouse's main thread (the server) while
 * simulated workers (in worker threads) loop claim → complete, one job per request, as in
 * `npm run bench:jobs`. Writes `bench/profiles/jobs-<dialect>.folded` (collapsed stacks, the
 * input of a flame graph) and `jobs-<dialect>.top.txt` (self and inclusive time per frame).
 *
 * Knobs: `PROFILE_DIALECT` (`sqlite`, default, or `postgres`, which needs `BENCH_DATABASE_URL` or
 * `TEST_DATABASE_URL`), `PROFILE_SECONDS` (default 5), `PROFILE_WORKERS` (default 50),
 * `PROFILE_HEARTBEAT=1` (claim → heartbeat → complete), `PROFILE_CLAIM_NEXT=1` (completions claim
 * the next job, as the worker SDK does), `PROFILE_NAME` (file stem).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createQueue, prepareJobsFixture } from './lib/jobs-setup.js';
import { mainThreadCpuMs } from './lib/load.js';
import { scratchPostgres, scratchSqlite } from './lib/scratch.js';
import { startGatehouse } from './lib/servers.js';
import { summarise } from './profile.js';
import { cycleName, inThread } from './scenarios/jobs-clients.js';

const dialect = process.env.PROFILE_DIALECT ?? 'sqlite';
const seconds = Number(process.env.PROFILE_SECONDS ?? 5);
const workers = Number(process.env.PROFILE_WORKERS ?? 50);
const heartbeat = process.env.PROFILE_HEARTBEAT === '1';
const claimNext = process.env.PROFILE_CLAIM_NEXT === '1';
const name = process.env.PROFILE_NAME ?? `jobs-${dialect}`;
const OUT = fileURLToPath(new URL('./profiles/', import.meta.url));

async function main(): Promise<void> {
  const pgUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (dialect === 'postgres' && !pgUrl) throw new Error('PROFILE_DIALECT=postgres needs BENCH_DATABASE_URL or TEST_DATABASE_URL');
  const db = dialect === 'postgres' ? await scratchPostgres(pgUrl as string) : scratchSqlite();
  const gh = await startGatehouse({ databaseUrl: db.url, dataDir: db.dataDir, level: 'silent', env: { JOB_SWEEP_SECONDS: '3600' } });
  const session = new Session();
  try {
    const fixture = await prepareJobsFixture(gh.server, workers);
    await createQueue(fixture, 'profile');
    const jobs = Math.ceil(seconds * 8000 + 5000);
    await inThread('enqueueBatches', { base: fixture.base, key: fixture.adminKey, queue: 'profile', total: jobs, batchSize: 1000, concurrency: 4 });
    // Warm-up (JIT, caches, worker registration), then the profiled run.
    await inThread('runCycles', { base: fixture.base, keys: fixture.workerKeys, queue: 'profile', durationSeconds: 1, heartbeat, claimNext });
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    const cpuBefore = mainThreadCpuMs() ?? 0;
    const run = await inThread('runCycles', { base: fixture.base, keys: fixture.workerKeys, queue: 'profile', durationSeconds: seconds, heartbeat, claimNext });
    const cpuMs = (mainThreadCpuMs() ?? 0) - cpuBefore;
    const { profile } = await session.post('Profiler.stop');
    const { folded, top } = summarise(profile as Parameters<typeof summarise>[0]);
    const headline = `${dialect}, ${workers} workers, ${cycleName({ heartbeat, claimNext })}: ${Math.round(run.jobs / run.seconds)} jobs/s, ${Math.round((cpuMs * 1000) / run.jobs)} µs server CPU/job (profiler on)\n`;
    mkdirSync(OUT, { recursive: true });
    writeFileSync(path.join(OUT, `${name}.folded`), `${folded}\n`);
    writeFileSync(path.join(OUT, `${name}.top.txt`), `${headline}${top}`);
    process.stdout.write(`${headline}${top}`);
  } finally {
    session.disconnect();
    await gh.close();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
