/** Turns the figures of one `npm run bench:jobs` run into a console table and `bench/JOBS-RESULTS.md`. */
import type { PeerFigures } from '../scenarios/jobs-peers.js';
import { cycleName } from '../scenarios/jobs-clients.js';
import type { CycleRow, JobsHttpFigures } from '../scenarios/jobs-http.js';
import type { WsMemoryFigures } from '../scenarios/jobs-ws-memory.js';

/** Everything one run measured. */
export interface JobsBenchReport {
  date: string;
  machine: { cores: number; cpu: string; memoryGib: number; node: string; platform: string; loadBefore: number[]; loadAfter: number[] };
  commit: string;
  settings: Record<string, string | number>;
  sqlite: JobsHttpFigures | null;
  postgres: JobsHttpFigures | null;
  peers: PeerFigures[] | null;
  ws: WsMemoryFigures | null;
  /** Parts not measured, with the reason. */
  skipped: string[];
  totalSeconds: number;
}

interface Row {
  figure: string;
  gatehouse: string;
  peers: string;
  target: string;
  met: boolean | null;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => n.toFixed(2);
const verdict = (met: boolean | null) => (met === null ? '' : met ? 'yes' : '**no**');

function peer(peers: PeerFigures[] | null, pick: (p: PeerFigures) => boolean, value: (p: PeerFigures) => string): string {
  if (!peers) return '';
  return peers
    .filter(pick)
    .map((p) => `${p.library} ${value(p)}`)
    .join('; ');
}

function rows(report: JobsBenchReport): Row[] {
  const out: Row[] = [];
  const dialects: Array<['SQLite' | 'PostgreSQL', JobsHttpFigures | null]> = [
    ['SQLite', report.sqlite],
    ['PostgreSQL', report.postgres],
  ];
  for (const [name, f] of dialects) {
    if (!f) continue;
    const pg = name === 'PostgreSQL';
    const peers = pg ? report.peers : null;
    if (f.enqueueBatch) {
      out.push({
        figure: `enqueue, 1,000 jobs per request (${f.enqueueBatch.concurrency} in flight), ${name}`,
        gatehouse: `${int(f.enqueueBatch.rate)} jobs/s`,
        peers: peer(peers, (p) => p.setup === peers?.find((q) => q.library === p.library)?.setup, (p) => `${int(p.enqueuePerSecond)} jobs/s (batched insert, in process)`),
        target: '',
        met: null,
      });
    }
    if (f.enqueueSingle) {
      out.push({
        figure: `enqueue, 1 job per request (${f.enqueueSingle.concurrency} connections), ${name}`,
        gatehouse: `${int(f.enqueueSingle.rate)} jobs/s`,
        peers: '',
        target: '',
        met: null,
      });
    }
    const target = pg ? 3200 : 5000;
    const best = f.cycles.filter((c) => !c.heartbeat).sort((a, b) => b.rate - a.rate)[0];
    for (const c of f.cycles) {
      const judged = c === best;
      out.push({
        figure: `${cycleName(c)}, one job per request, ${c.workers} worker${c.workers === 1 ? '' : 's'}, ${name}`,
        gatehouse: `${int(c.rate)} jobs/s`,
        peers: judged ? peer(peers, (p) => p.mode === 'single', (p) => `${int(p.jobsPerSecond)} jobs/s`) : '',
        target: judged ? `≥ ${int(target)} jobs/s` : '',
        met: judged ? c.rate >= target : null,
      });
    }
    if (f.batched) {
      out.push({
        figure: `claim-batch (${f.batched.batchSize}) → complete-batch, ${f.batched.workers} workers, ${name}`,
        gatehouse: `${int(f.batched.rate)} jobs/s`,
        peers: pg ? peer(peers, (p) => p.mode === 'batched', (p) => `${int(p.jobsPerSecond)} jobs/s`) : '',
        target: pg ? '≥ 15,000 jobs/s' : '',
        met: pg ? f.batched.rate >= 15000 : null,
      });
    }
    if (f.sse) {
      out.push({
        figure: `heartbeat → SSE subscriber latency (${int(f.sse.count)} heartbeats), ${name}`,
        gatehouse: `p50 ${ms(f.sse.p50)} ms, p99 ${ms(f.sse.p99)} ms`,
        peers: '',
        target: 'p99 < 20 ms',
        met: f.sse.p99 < 20,
      });
    }
  }
  if (report.ws) {
    const w = report.ws;
    const mb = (mib: number) => (mib * 1.048576).toFixed(0);
    const measured =
      w.projectedMiB === null
        ? `${mb(w.rssAfterMiB)} MB RSS (${mb(w.rssBeforeMiB)} MB before; ${w.perSubscriberKiB.toFixed(1)} KiB each)`
        : `${int(w.subscribed)} opened: ${mb(w.rssAfterMiB)} MB; **extrapolated** to ${int(w.requested)}: ${mb(w.projectedMiB)} MB`;
    out.push({
      figure: `${int(w.requested)} idle WebSocket subscribers (server process RSS, SQLite)`,
      gatehouse: measured,
      peers: '',
      target: '< 500 MB RSS',
      met: (w.projectedMiB ?? w.rssAfterMiB) * 1.048576 < 500,
    });
  }
  return out;
}

/** Plain-text table for the terminal. */
export function formatJobsConsole(report: JobsBenchReport): string {
  const table = rows(report).map((r) => [r.figure, r.gatehouse, r.peers, r.target, verdict(r.met)].map((c) => c.replaceAll('`', '').replaceAll('*', '')));
  const header = ['figure', 'Gatehouse', 'peers (same PostgreSQL)', 'target', 'met'];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)];
  for (const s of report.skipped) out.push(`not measured: ${s}`);
  return out.join('\n');
}

function cycleDetails(name: string, rowsIn: Array<CycleRow & { label?: string }>): string[] {
  return rowsIn.map(
    (c) =>
      `| ${name} | ${c.label ?? `${cycleName(c)}, ${c.workers} worker${c.workers === 1 ? '' : 's'}`} | ${int(c.rate)} | ${int(c.requests / c.seconds)} | ${int(c.cpuUsPerJob)} | ${c.p50Ms.toFixed(1)} / ${c.p99Ms.toFixed(1)} | ${int(c.jobs)} in ${c.seconds.toFixed(1)} s${c.ranDry ? `, ${c.ranDry} workers found the queue empty` : ''} |`,
  );
}

/** The whole JOBS-RESULTS.md. */
export function formatJobsMarkdown(report: JobsBenchReport): string {
  const m = report.machine;
  const table = rows(report);
  const details: string[] = [];
  for (const [name, f] of [
    ['SQLite', report.sqlite],
    ['PostgreSQL', report.postgres],
  ] as const) {
    if (!f) continue;
    details.push(...cycleDetails(name, f.cycles));
    if (f.batched) details.push(...cycleDetails(name, [{ ...f.batched, label: `claim-batch (${f.batched.batchSize}) → complete-batch, ${f.batched.workers} workers` }]));
  }
  const enqueue: string[] = [];
  for (const [name, f] of [
    ['SQLite', report.sqlite],
    ['PostgreSQL', report.postgres],
  ] as const) {
    if (!f) continue;
    for (const [label, e] of [
      ['1,000 jobs per request', f.enqueueBatch],
      ['1 job per request', f.enqueueSingle],
    ] as const) {
      if (e) enqueue.push(`| ${name} | ${label} | ${int(e.rate)} | ${int(e.cpuUsPerJob)} | ${int(e.jobs)} in ${e.seconds.toFixed(1)} s |`);
    }
  }
  const sse: string[] = [];
  for (const [name, f] of [
    ['SQLite', report.sqlite],
    ['PostgreSQL', report.postgres],
  ] as const) {
    if (f?.sse) sse.push(`| ${name} | ${f.sse.count} | ${ms(f.sse.p50)} | ${ms(f.sse.p99)} | ${ms(f.sse.max)} | ${ms(f.sse.heartbeatP50)} / ${ms(f.sse.heartbeatP99)} |`);
  }
  const failures = [...(report.sqlite?.failures.map((f) => `SQLite: ${f}`) ?? []), ...(report.postgres?.failures.map((f) => `PostgreSQL: ${f}`) ?? [])];
  const w = report.ws;
  return `# Gatehouse job-system benchmark results

Run \`npm run bench:jobs\` (this run: ${report.totalSeconds.toFixed(0)} s on ${m.cores} cores). It measures the job system
over real HTTP against Gatehouse started in the bench process (\`startServer\`, 127.0.0.1, an ephemeral
port), on a scratch SQLite file and on a scratch PostgreSQL database; the clients (producers,
simulated workers with one API key and one keep-alive connection each, an SSE subscriber) run in
worker threads. In the same run, pg-boss and graphile-worker process no-op jobs on their own
scratch databases of the same PostgreSQL server, and a Gatehouse child process holds idle WebSocket
subscribers while its RSS is read. \`npm run bench\` (RESULTS.md) is the other half of the figures.

Knobs (environment): \`BENCH_DATABASE_URL\` or \`TEST_DATABASE_URL\` (PostgreSQL server allowing
CREATE DATABASE; without it only SQLite and WebSocket memory run), \`BENCH_JOBS_PARTS\` (comma list
of \`sqlite,postgres,peers,ws\`), \`BENCH_JOBS_DURATION\` (seconds per throughput figure),
\`BENCH_JOBS_WORKERS\` (e.g. \`1,10,50\`), \`BENCH_JOBS_PREFILL\`, \`BENCH_JOBS_BATCH_PREFILL\`,
\`BENCH_JOBS_BATCH_WORKERS\`, \`BENCH_JOBS_SSE_HEARTBEATS\`, \`BENCH_JOBS_PEER_JOBS\`, \`BENCH_JOBS_PEER_SECONDS\`,
\`BENCH_JOBS_WS_SUBSCRIBERS\`; \`DATABASE_POOL_SIZE\` and \`DATABASE_PREPARED_STATEMENTS\` are passed to Gatehouse.

- Date: ${report.date}
- Machine: ${m.cores} cores (\`nproc\`), ${m.cpu}, ${m.memoryGib} GiB, ${m.platform}; Node ${m.node}
- Load average (1/5/15 min) before: ${m.loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after: ${m.loadAfter.map((x) => x.toFixed(2)).join(' / ')}${
    Math.max(m.loadBefore[0] ?? 0, m.loadAfter[0] ?? 0) > m.cores
      ? ` — **other processes were competing for the ${m.cores} cores during this run: the throughput figures are low by an unknown factor; rerun on a quiet machine**`
      : ''
  }
- Commit: ${report.commit}
- Settings: ${Object.entries(report.settings)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}
${report.peers?.length ? `- Peers: pg-boss ${report.peers.find((p) => p.library === 'pg-boss')?.version ?? '—'}, graphile-worker ${report.peers.find((p) => p.library === 'graphile-worker')?.version ?? '—'} (the newest versions whose \`engines\` accept Node 20)\n` : ''}
## Targets (DESIGN.md, "Performance targets")

| figure | Gatehouse | peers (same PostgreSQL) | target | met |
|---|---|---|---|---|
${table.map((r) => `| ${r.figure} | ${r.gatehouse} | ${r.peers} | ${r.target} | ${verdict(r.met)} |`).join('\n')}
${report.skipped.length ? `\nNot measured: ${report.skipped.join('; ')}.\n` : ''}${failures.length ? `\nParts that failed: ${failures.join('; ')}.\n` : ''}
## Details

Worker cycles (one simulated worker = one API key, one keep-alive connection, one job at a time
unless batched; jobs/s counts completed jobs; CPU is the Gatehouse main thread's user + system time
per job from /proc, which shares the bench process with nothing but the idle thread bookkeeping):

| database | loop | jobs/s | requests/s | server CPU µs/job | per job p50 / p99 ms (claim sent → complete answered) | jobs |
|---|---|---:|---:|---:|---|---|
${details.join('\n')}

Enqueue (the admin's API key, \`POST /api/v1/queues/{name}/jobs\`):

| database | request | jobs/s | server CPU µs/job | jobs |
|---|---|---:|---:|---|
${enqueue.join('\n')}

Heartbeat → SSE (one job held by one worker, one subscriber on \`GET /api/v1/events?topics=job:<id>\`;
each heartbeat carries a new progress value and message and is sent after the previous one's event
arrived; latency is from sending the heartbeat request to parsing its \`job.progress\` event):

| database | heartbeats | p50 ms | p99 ms | max ms | heartbeat request p50 / p99 ms |
|---|---:|---:|---:|---:|---|
${sse.join('\n')}
${
  report.peers?.length
    ? `
Peers (each on its own scratch database of the same PostgreSQL server, library and no-op handler in
the bench process, ${int(report.peers[0]?.jobs ?? 0)} jobs per row, enqueued first in chunks of 1,000 through the library's
batched insert, then processed; the processing time runs from starting the workers until no job of
the queue is pending, or until the time limit, when the rate is the jobs processed by then over it):

| library | mode | setup | enqueue jobs/s | processed jobs/s | processed | seconds |
|---|---|---|---:|---:|---:|---:|
${report.peers.map((p) => `| ${p.library} ${p.version} | ${p.mode} | ${p.setup} | ${int(p.enqueuePerSecond)} | ${int(p.jobsPerSecond)} | ${int(p.processed)} of ${int(p.jobs)} | ${p.processSeconds.toFixed(1)} |`).join('\n')}
`
    : ''
}${
  w
    ? `
WebSocket memory: a Gatehouse child process (\`node --import tsx bench/lib/gatehouse-child.ts\`, SQLite,
silent logs; tsx adds its loader to the baseline) and ${int(w.subscribed)} of ${int(w.requested)} requested WebSockets opened from
the bench process (admin API key, each subscribed to one of 100 \`job:<id>\` topics), VmRSS read from
/proc/<pid>/status after 3 s idle: before ${w.rssBeforeMiB.toFixed(1)} MiB, after ${w.rssAfterMiB.toFixed(1)} MiB (peak ${w.rssPeakMiB.toFixed(1)} MiB),
${w.perSubscriberKiB.toFixed(1)} KiB per subscriber; all opened in ${w.openSeconds.toFixed(1)} s.${w.errors.length ? ` Errors: ${w.errors.join('; ')}.` : ''}${w.projectedMiB !== null ? ` Extrapolated to ${int(w.requested)}: ${w.projectedMiB.toFixed(0)} MiB.` : ''}
`
    : ''
}`;
}
