/** Turns the figures of one bench run into the Markdown of `bench/RESULTS.md`. */
import type { LoginFigures } from '../scenarios/logins.js';
import type { SessionScaleFigures } from '../scenarios/session-scale.js';
import type { TargetFigures } from '../scenarios/throughput.js';
import { CALIBRATION_BUSY_US } from './servers.js';

/** Everything one run measured. */
export interface BenchReport {
  date: string;
  machine: { cores: number; cpu: string; memoryGib: number; node: string; platform: string; loadBefore: number[]; loadAfter: number[] };
  commit: string;
  logLevel: string;
  settings: { rounds: number; durationSeconds: number; warmupSeconds: number; connections: number };
  sqlite: TargetFigures[];
  postgres: TargetFigures[] | null;
  postgresSkipped: string | null;
  logins: LoginFigures;
  scale: SessionScaleFigures;
  totalSeconds: number;
}

/** One row of the targets table. */
interface Row {
  figure: string;
  measured: string;
  ratio: string;
  target: string;
  met: boolean | null;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits = 2) => n.toFixed(digits);
const verdict = (met: boolean | null) => (met === null ? '' : met ? 'yes' : '**no**');

function find(figures: TargetFigures[], name: string): TargetFigures {
  const f = figures.find((x) => x.name === name);
  if (!f) throw new Error(`no figures for ${name}`);
  return f;
}

/** The targets table rows (DESIGN.md "Performance targets"). */
function rows(report: BenchReport): Row[] {
  const out: Row[] = [];
  const http = (label: string, figures: TargetFigures[], name: string, target: number | null, note = '') => {
    const f = find(figures, name);
    out.push({
      figure: `${label}${note}`,
      measured: `${int(f.rps)} req/s`,
      ratio: name === 'bare' ? '1.00×' : `${fixed(f.ratio)}×`,
      target: target === null ? (name === 'bare' ? 'baseline' : name === 'bare-busy' ? 'calibration' : 'diagnostic') : `≥ ${fixed(target)}×`,
      met: target === null ? null : f.ratio >= target,
    });
  };
  http('bare Fastify JSON route (SQLite run)', report.sqlite, 'bare', null);
  http('cookie session `GET /api/v1/users/me`, SQLite', report.sqlite, 'cookie', 0.7);
  http('bearer JWT `GET /api/v1/users/me`, SQLite', report.sqlite, 'jwt', 0.6);
  http('API key + rate limiting `GET /api/v1/users/me`, SQLite', report.sqlite, 'api-key', 0.55);
  if (report.sqlite.some((f) => f.name === 'cookie-no-probe')) {
    http('cookie session, SQLite, cross-process change probe off', report.sqlite, 'cookie-no-probe', null, ' (diagnostic only: not a safe configuration)');
  }
  if (report.sqlite.some((f) => f.name === 'bare-busy')) {
    http(`calibration: the bare route plus ${CALIBRATION_BUSY_US} µs of busy JavaScript per request`, report.sqlite, 'bare-busy', null, ' (what a fixed cost does to the ratio here)');
  }
  if (report.postgres) {
    http('bare Fastify JSON route (PostgreSQL run)', report.postgres, 'bare', null);
    http('cookie session `GET /api/v1/users/me`, PostgreSQL', report.postgres, 'cookie', 0.5);
    http('bearer JWT `GET /api/v1/users/me`, PostgreSQL', report.postgres, 'jwt', 0.5);
    http('API key + rate limiting `GET /api/v1/users/me`, PostgreSQL', report.postgres, 'api-key', 0.5);
  }
  const l = report.logins;
  out.push({
    figure: `logins/s (\`POST /api/v1/auth/login\`, ${l.concurrency} connections) vs raw argon2id verifies/s (${l.concurrency} in parallel, ${l.params})`,
    measured: `${fixed(l.loginsPerSecond, 0)} vs ${fixed(l.rawPerSecond, 0)} /s`,
    ratio: `${fixed(l.ratio)}×`,
    target: '≥ 0.95×',
    met: l.ratio >= 0.95,
  });
  out.push({
    figure: `\`/healthz\` latency while logins saturate the CPU (${int(l.healthz.count)} probes, 1 every 10 ms)`,
    measured: `p50 ${fixed(l.healthz.p50)} ms, p99 ${fixed(l.healthz.p99)} ms (idle: p50 ${fixed(l.healthzIdle.p50)}, p99 ${fixed(l.healthzIdle.p99)})`,
    ratio: '',
    target: 'p99 < 10 ms',
    met: l.healthz.p99 < 10 && l.healthz.failures === 0,
  });
  const sizes = report.scale.sizes;
  const small = sizes[0];
  const large = sizes.at(-1);
  if (small && large && small !== large) {
    const lookup = (label: string, key: 'byTokenHashUs' | 'byIdUs') => {
      const ratio = large[key] / small[key];
      out.push({
        figure: `session lookup ${label}, ${int(small.rows)} vs ${int(large.rows)} sessions stored (SQLite, repository call)`,
        measured: `${fixed(small[key], 1)} µs vs ${fixed(large[key], 1)} µs`,
        ratio: `${fixed(ratio)}×`,
        target: 'the same (indexed)',
        // "The same" within noise and B-tree depth: a scan would be ~100× slower at 100× the rows.
        met: ratio < 2,
      });
    };
    lookup('by cookie token hash', 'byTokenHashUs');
    lookup('by session id (access tokens)', 'byIdUs');
  }
  return out;
}

/** Plain-text table for the terminal. */
export function formatConsole(report: BenchReport): string {
  const table = rows(report).map((r) => [r.figure.replaceAll('`', ''), r.measured, r.ratio, r.target, verdict(r.met).replaceAll('*', '')]);
  const header = ['figure', 'measured', 'ratio', 'target', 'met'];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n');
}

function httpDetails(title: string, figures: TargetFigures[]): string {
  const lines = [
    `| ${title} | req/s (median) | ratio (median of rounds) | server main-thread CPU µs/request | p99 ms | req/s per round |`,
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const f of figures) {
    lines.push(
      `| ${f.name} | ${int(f.rps)} | ${fixed(f.ratio)}× | ${fixed(f.cpuUs, 1)} | ${f.p99} | ${f.rounds.map(int).join(', ')} |`,
    );
  }
  return lines.join('\n');
}

/** The whole RESULTS.md. */
export function formatMarkdown(report: BenchReport): string {
  const m = report.machine;
  const s = report.settings;
  const table = rows(report);
  const scale = report.scale;
  return `# Gatehouse benchmark results

Run \`npm run bench\` (about ${Math.ceil(report.totalSeconds / 10) * 10} s on ${m.cores} cores). It starts everything in
one process — a bare Fastify JSON route and Gatehouse itself (\`createGatehouse\` + \`buildApp\`,
listening on 127.0.0.1:0) — loads them with autocannon over loopback, prints the table below and
rewrites this file. Set \`BENCH_DATABASE_URL\` (or \`TEST_DATABASE_URL\`), e.g.
\`postgres://postgres@127.0.0.1:5432/postgres\`, to add the PostgreSQL rows: the bench creates a
scratch database there and drops it afterwards. \`BENCH_LOG_LEVEL=info\` measures both servers
with production request logging (written to /dev/null); \`BENCH_ROUNDS\`, \`BENCH_DURATION\`
(seconds per measurement), \`BENCH_CONNECTIONS\` and \`BENCH_SESSIONS\` (e.g. \`10000,1000000\`)
change the run. Ratios, not absolute numbers, are what to compare between machines.

- Date: ${report.date}
- Machine: ${m.cores} cores (\`nproc\`), ${m.cpu}, ${m.memoryGib} GiB, ${m.platform}; Node ${m.node}
- Load average (1/5/15 min) before: ${m.loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after: ${m.loadAfter.map((x) => x.toFixed(2)).join(' / ')}
- Commit: ${report.commit}
- Log level: \`${report.logLevel}\`, the same for the bare route and for Gatehouse (both use the production logger options — redaction, request serializer — writing to /dev/null)
- Whole run: ${fixed(report.totalSeconds, 0)} s

## Targets (DESIGN.md, "Performance targets")

| figure | measured | ratio | target | met |
|---|---|---:|---|---|
${table.map((r) => `| ${r.figure} | ${r.measured} | ${r.ratio} | ${r.target} | ${verdict(r.met)} |`).join('\n')}
${report.postgresSkipped ? `\nPostgreSQL rows: ${report.postgresSkipped}\n` : ''}
## Details

${httpDetails('SQLite run', report.sqlite)}
${report.postgres ? `\n${httpDetails('PostgreSQL run', report.postgres)}\n` : ''}
Logins: raw argon2id ${fixed(report.logins.rawPerSecond, 1)} verifies/s, logins ${fixed(report.logins.loginsPerSecond, 1)}/s
(medians of 2 alternating rounds); each login also cost ${fixed(report.logins.mainThreadCpuUsPerLogin, 0)} µs of server
main-thread CPU (HTTP, queries, commits), which competes with argon2 for the same cores. \`/healthz\` under login load: p50
${fixed(report.logins.healthz.p50)} ms, p99 ${fixed(report.logins.healthz.p99)} ms, max ${fixed(report.logins.healthz.max)} ms over
${report.logins.healthz.count} probes (${report.logins.healthz.failures} failed).

Session lookups (SQLite, \`sessions.repo.ts\` through Kysely, best of 5 passes over 2,000 random keys):

| sessions stored | filled in | by token hash | by id | absent hash | full scan (unindexed column), for contrast |
|---:|---:|---:|---:|---:|---:|
${scale.sizes.map((f) => `| ${int(f.rows)} | ${fixed(f.insertSeconds, 1)} s | ${fixed(f.byTokenHashUs, 1)} µs | ${fixed(f.byIdUs, 1)} µs | ${fixed(f.missUs, 1)} µs | ${fixed(f.scanMs, 1)} ms |`).join('\n')}

Query plans: by token hash \`${scale.plans.byTokenHash}\`; by id \`${scale.plans.byId}\`.

## Method

- **Load**: autocannon 8 in a worker thread of the bench process (\`workers: 1\`), so the load
  generator has its own event loop and the server's main thread serves only requests;
  ${s.connections} connections, no pipelining, loopback only. Every figure runs ${s.warmupSeconds} s of
  warm-up first, then ${s.rounds} interleaved rounds of ${s.durationSeconds} s (baseline, then each route); a
  route's ratio is the median over rounds of its req/s divided by the same round's baseline.
- **Baseline**: a separate minimal Fastify instance in the same process, \`GET /\` →
  \`{"hello":"world"}\`, with the same logger and level as Gatehouse.
- **Gatehouse**: \`startServer\` (what \`gatehouse serve\` runs) on a scratch SQLite file or a scratch
  PostgreSQL database, default configuration except \`RATE_LIMIT_IP_PER_MINUTE\` and
  \`RATE_LIMIT_USER_PER_MINUTE\` raised to 10⁹ (the limiters still run on every request; the
  defaults would refuse the bench's traffic after 300 or 1,200 requests); one verified user, one browser session
  (cookie from \`POST /api/v1/auth/login\`) and one access token (\`POST /api/v1/auth/token\`,
  password grant). Every request is answered 200, or the bench fails.
- **CPU µs/request**: user + system time of the main thread (from /proc) over the run divided by
  the requests served. It moves much less than req/s when other processes compete for the CPU,
  and includes the kernel's loopback TCP work for each response.
- **Reading the ratios**: on a virtual machine the kernel's loopback work per response is a large
  share of the bare route's cost (two thirds of its main-thread time in a CPU profile on our
  2-core VMs), and it grows when the server
  is slower, because the idle client then has to be woken for every response. The calibration
  row measures that: the bare route plus only ${CALIBRATION_BUSY_US} µs of busy JavaScript per request. A route
  reaches a ratio r only if its extra per-request work stays below what that row implies; the
  CPU µs/request column shows how much Gatehouse spends per request on top of the bare route.
- **Logins**: the server's own \`PasswordHasher\` (@node-rs/argon2 on libuv's thread pool) with the
  configured OWASP parameters; raw verifies and HTTP logins use the same concurrency and
  alternate by round; \`/healthz\` is probed from another thread every 10 ms over a keep-alive
  connection during the login rounds (microsecond timer).
- **Session lookups**: rows are inserted in bulk through Kysely (\`INSERT … SELECT\` over a
  recursive CTE) into a scratch SQLite database migrated by Gatehouse; the lookups are the
  repository functions a session-cache miss calls.
`;
}
