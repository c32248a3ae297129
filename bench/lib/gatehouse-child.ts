/**
 * A Gatehouse in a process of its own, for measurements that must see the server alone (its
 * RSS). Run as `node --import tsx bench/lib/gatehouse-child.ts` with DATABASE_URL and DATA_DIR
 * set, BENCH_CHILD_JOBS (jobs to create in queue `bench-ws`) and BENCH_CHILD_MAX_CONNECTIONS_PER_USER
 * (REALTIME_MAX_CONNECTIONS_PER_USER: the bench's sockets are all one user's). It starts the server like the
 * in-process bench does ({@link startServer}, 127.0.0.1, an ephemeral port, silent logs), creates
 * the bench admin and the jobs, prints one JSON line `{address, adminKey, jobIds}` on stdout,
 * and stops on SIGTERM or SIGINT.
 */
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { JsonClient } from './http-json.js';
import { createQueue, prepareJobsFixture } from './jobs-setup.js';
import { BENCH_PUBLIC_URL, BENCH_REQUEST_LIMIT, benchLogger } from './servers.js';

/** The line the child prints once it is ready. */
export interface ChildReady {
  address: string;
  adminKey: string;
  jobIds: string[];
}

async function main(): Promise<void> {
  const env = process.env;
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_URL: BENCH_PUBLIC_URL,
    DATA_DIR: env.DATA_DIR ?? '',
    DATABASE_URL: env.DATABASE_URL ?? '',
    LOG_LEVEL: 'silent',
    MAIL_POLL_SECONDS: '3600',
    RATE_LIMIT_IP_PER_MINUTE: String(BENCH_REQUEST_LIMIT),
    RATE_LIMIT_USER_PER_MINUTE: String(BENCH_REQUEST_LIMIT),
    // The WebSocket memory bench opens all its sockets as one user.
    REALTIME_MAX_CONNECTIONS_PER_USER: env.BENCH_CHILD_MAX_CONNECTIONS_PER_USER ?? '20',
  });
  const server = await startServer(config, { logger: benchLogger('silent') });
  const stop = () => {
    void server.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const fixture = await prepareJobsFixture(server, 0);
  await createQueue(fixture, 'bench-ws');
  const admin = new JsonClient(fixture.base, { authorization: `Bearer ${fixture.adminKey}` });
  const count = Number(env.BENCH_CHILD_JOBS ?? 100);
  const created = await admin.expect([201], 'POST', '/api/v1/queues/bench-ws/jobs', {
    jobs: Array.from({ length: count }, (_, i) => ({ kind: 'ws', payload: { i } })),
  });
  admin.close();
  const jobIds = (created.body as { items: Array<{ id: string }> }).items.map((j) => j.id);
  const ready: ChildReady = { address: server.address, adminKey: fixture.adminKey, jobIds };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
