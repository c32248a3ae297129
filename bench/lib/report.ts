/** Turns the figures of one bench run into the Markdown of `bench/RESULTS.md`. */
import type { LoginFigures } from '../scenarios/logins.js';
import type { SessionScaleFigures } from '../scenarios/session-scale.js';
import type { TargetFigures } from '../scenarios/throughput.js';
import { median } from './stats.js';

/** The HTTP figures of one dialect: groups `info` and `silent`, each with `bare`, `cookie`, `jwt`, `api-key`. */
export interface HttpRun {
  dialect: 'SQLite' | 'PostgreSQL';
  figures: TargetFigures[];
  /** Bytes of log written per authenticated request at LOG_LEVEL=info (null when not measured). */
  logBytesPerRequest: number | null;
}

/** Everything one run measured. */
export interface BenchReport {
  date: string;
  machine: { cores: number; cpu: string; memoryGib: number; node: string; platform: string; loadBefore: number[]; loadAfter: number[] };
  commit: string;
  settings: { rounds: number; durationSeconds: number; warmupSeconds: number; threads: number; connections: number };
  /** Size of the `/users/me` body, which the bare route matches. */
  meBytes: number;
  http: HttpRun[];
  postgresSkipped: string | null;
  logins: LoginFigures;
  /** The same login figures for the `BENCH_BASELINE` checkout, when one was measured. */
  baseLogins: LoginFigures | null;
  /** The `BENCH_BASELINE` checkout, or null. */
  baseline: string | null;
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

function find(figures: TargetFigures[], group: string, name: string): TargetFigures {
  const f = figures.find((x) => x.group === group && x.name === name);
  if (!f) throw new Error(`no figures for ${group}/${name}`);
  return f;
}

/** Median over rounds of (info req/s ÷ silent req/s) for one route: what request logging costs. */
export function loggingRatio(figures: TargetFigures[], name: string): number {
  const info = find(figures, 'info', name).rounds;
  const silent = find(figures, 'silent', name).rounds;
  return median(info.map((r, i) => r / (silent[i] as number)));
}

const LABELS: Record<string, string> = {
  cookie: 'cookie session `GET /api/v1/users/me`',
  jwt: 'bearer JWT `GET /api/v1/users/me`',
  'api-key': 'API key + rate limiting `GET /api/v1/users/me`',
};

/** The targets table rows (DESIGN.md "Performance targets"). */
function rows(report: BenchReport): Row[] {
  const out: Row[] = [];
  for (const run of report.http) {
    const sqlite = run.dialect === 'SQLite';
    const targets: Record<string, number> = sqlite ? { cookie: 0.7, jwt: 0.6, 'api-key': 0.55 } : { cookie: 0.5, jwt: 0.5, 'api-key': 0.5 };
    const levels = ['info', 'silent'].filter((level) => run.figures.some((f) => f.group === level));
    for (const level of levels) {
      const bare = find(run.figures, level, 'bare');
      out.push({
        figure: `bare Fastify JSON route, ${run.dialect} run, LOG_LEVEL=${level}`,
        measured: `${int(bare.rps)} req/s, ${fixed(bare.cpuUs, 1)} µs CPU/req`,
        ratio: '1.00×',
        target: 'baseline',
        met: null,
      });
      for (const name of ['cookie', 'jwt', 'api-key']) {
        const before = run.figures.find((x) => x.group === level && x.name === `${name}@base`);
        if (before) {
          out.push({
            figure: `${LABELS[name]}, ${run.dialect}, LOG_LEVEL=${level}, **before** (baseline checkout)`,
            measured: `${int(before.rps)} req/s, ${fixed(before.cpuUs, 1)} µs CPU/req`,
            ratio: `${fixed(before.ratio)}×`,
            target: `≥ ${fixed(targets[name] as number)}×`,
            met: before.ratio >= (targets[name] as number),
          });
        }
        const f = find(run.figures, level, name);
        const target = targets[name] as number;
        out.push({
          figure: `${LABELS[name]}, ${run.dialect}, LOG_LEVEL=${level}`,
          measured: `${int(f.rps)} req/s, ${fixed(f.cpuUs, 1)} µs CPU/req`,
          ratio: `${fixed(f.ratio)}×`,
          target: `≥ ${fixed(target)}×`,
          met: f.ratio >= target,
        });
      }
    }
    if (sqlite && levels.length === 2) {
      for (const name of ['cookie', 'jwt', 'api-key']) {
        const ratio = loggingRatio(run.figures, name);
        out.push({
          figure: `request logging cost: ${name} at LOG_LEVEL=info vs silent, ${run.dialect}`,
          measured: `${fixed((1 - ratio) * 100, 1)} % fewer req/s`,
          ratio: `${fixed(ratio)}×`,
          target: '≤ 10 % cost',
          met: ratio >= 0.9,
        });
      }
    }
  }
  const b = report.baseLogins;
  if (b) {
    out.push({
      figure: `**before** (baseline checkout): logins/s vs raw argon2id verifies/s (${b.concurrency} in parallel)`,
      measured: `${fixed(b.loginsPerSecond, 0)} vs ${fixed(b.rawPerSecond, 0)} /s`,
      ratio: `${fixed(b.ratio)}×`,
      target: '≥ 0.95×',
      met: b.ratio >= 0.95,
    });
    out.push({
      figure: `**before** (baseline checkout): \`/healthz\` latency while logins saturate the CPU (${int(b.healthz.count)} probes)`,
      measured: `p50 ${fixed(b.healthz.p50)} ms, p99 ${fixed(b.healthz.p99)} ms`,
      ratio: '',
      target: 'p99 < 10 ms',
      met: b.healthz.p99 < 10 && b.healthz.failures === 0,
    });
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

function httpDetails(run: HttpRun): string {
  const lines = [
    `| ${run.dialect} run | req/s (median) | ratio (median of rounds) | server CPU µs/request (all threads) | main thread µs/request | p50 ms | p99 ms | req/s per round |`,
    '|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const f of run.figures) {
    lines.push(
      `| ${f.group}/${f.name} | ${int(f.rps)} | ${fixed(f.ratio)}× | ${fixed(f.cpuUs, 1)} | ${fixed(f.mainCpuUs, 1)} | ${fixed(f.p50)} | ${fixed(f.p99)} | ${f.rounds.map(int).join(', ')} |`,
    );
  }
  if (run.logBytesPerRequest !== null) lines.push('', `Log written at LOG_LEVEL=info: ${fixed(run.logBytesPerRequest, 0)} bytes per request.`);
  return lines.join('\n');
}

/** The whole RESULTS.md. */
export function formatMarkdown(report: BenchReport): string {
  const m = report.machine;
  const s = report.settings;
  const table = rows(report);
  const scale = report.scale;
  return `# Gatehouse benchmark results

Run \`npm run build && npm run bench\` (about ${Math.ceil(report.totalSeconds / 10) * 10} s on ${m.cores} cores; it installs Debian's \`wrk\` with
apt-get when it is missing). The bench starts Gatehouse as a deployment runs it — \`node
bin/gatehouse.js serve\` in its own process, configured by environment variables only — and a bare
Fastify route in another process, loads both with \`wrk -t${s.threads} -c${s.connections}\` over loopback in
alternating rounds, prints the table below and rewrites this file. Set \`BENCH_DATABASE_URL\` (or
\`TEST_DATABASE_URL\`), e.g. \`postgres://postgres@127.0.0.1:5432/postgres\`, to add the PostgreSQL
rows: the bench creates scratch databases there and drops them afterwards. \`BENCH_ROUNDS\`,
\`BENCH_DURATION\` (seconds per measurement), \`BENCH_CONNECTIONS\` and \`BENCH_SESSIONS\` (e.g.
\`10000,1000000\`) change the run; \`BENCH_BASELINE=DIR\` also measures another built checkout (e.g. the
main branch) in the same rounds, for before/after figures under the same load; \`BENCH_PROFILE=1\` runs Gatehouse under \`node --cpu-prof\` and
leaves the profiles in \`bench/profiles/raw/\` (\`npm run bench:profile\` makes the summarised ones in
\`bench/profiles/\`). \`npm run bench:smoke\` runs every scenario for about a second and writes nothing
(CI runs it: \`test/bench/bench-smoke.test.ts\`). Ratios, not absolute numbers, are what to compare
between machines.

- Date: ${report.date}
- Machine: ${m.cores} cores (\`nproc\`), ${m.cpu}, ${m.memoryGib} GiB, ${m.platform}; Node ${m.node}
- Load average (1/5/15 min) before: ${m.loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after: ${m.loadAfter.map((x) => x.toFixed(2)).join(' / ')}
- Commit: ${report.commit}${report.baseline ? `\n- Baseline checkout measured in the same rounds (\`BENCH_BASELINE\`): \`${report.baseline}\` (rows marked **before**; \`name@base\` in the details)` : ''}
- Whole run: ${fixed(report.totalSeconds, 0)} s

## Targets (DESIGN.md, "Performance targets")

| figure | measured | ratio | target | met |
|---|---|---:|---|---|
${table.map((r) => `| ${r.figure} | ${r.measured} | ${r.ratio} | ${r.target} | ${verdict(r.met)} |`).join('\n')}
${report.postgresSkipped ? `\nPostgreSQL rows: ${report.postgresSkipped}\n` : ''}
## Details

${report.http.map(httpDetails).join('\n\n')}

Logins: raw argon2id ${fixed(report.logins.rawPerSecond, 1)} verifies/s, logins ${fixed(report.logins.loginsPerSecond, 1)}/s
(medians of alternating rounds); each login also cost ${fixed(report.logins.mainThreadCpuUsPerLogin, 0)} µs of server
main-thread CPU (HTTP, queries, commits), which competes with argon2 for the same cores. \`/healthz\` under login load: p50
${fixed(report.logins.healthz.p50)} ms, p99 ${fixed(report.logins.healthz.p99)} ms, max ${fixed(report.logins.healthz.max)} ms over
${report.logins.healthz.count} probes (${report.logins.healthz.failures} failed).

Session lookups (SQLite, \`sessions.repo.ts\` through Kysely, best of 5 passes over 2,000 random keys):

| sessions stored | filled in | by token hash | by id | absent hash | full scan (unindexed column), for contrast |
|---:|---:|---:|---:|---:|---:|
${scale.sizes.map((f) => `| ${int(f.rows)} | ${fixed(f.insertSeconds, 1)} s | ${fixed(f.byTokenHashUs, 1)} µs | ${fixed(f.byIdUs, 1)} µs | ${fixed(f.missUs, 1)} µs | ${fixed(f.scanMs, 1)} ms |`).join('\n')}

Query plans: by token hash \`${scale.plans.byTokenHash}\`; by id \`${scale.plans.byId}\`.

## Method

- **Load**: Debian's \`wrk -t${s.threads} -c${s.connections} -d${s.durationSeconds}s --latency\` (a C load generator; a Node one such as
  autocannon saturates before a bare Fastify route does on two cores and flatters every ratio).
  Every figure first runs ${s.warmupSeconds} s of warm-up, then ${s.rounds} rounds; in each round, for each log level,
  the bare route and then each Gatehouse route run for ${s.durationSeconds} s; a route's ratio is the median over
  rounds of its req/s divided by the same round's bare req/s at the same log level. Every response
  must be 2xx, or the bench fails.
- **Baseline**: \`bench/lib/bare-server.mjs\` in a process of its own: Fastify with one route whose
  JSON body is as long as Gatehouse's \`/users/me\` answer (${report.meBytes} bytes), and Gatehouse's own
  production logger (\`dist/shared/logger.js\`) at the same level, writing to a file.
- **Gatehouse**: \`node bin/gatehouse.js serve\` (the README's way) on a scratch SQLite file or a
  scratch PostgreSQL database, one process per log level, the default configuration except
  \`RATE_LIMIT_IP_PER_MINUTE\` and \`RATE_LIMIT_USER_PER_MINUTE\` raised to 10⁹ (the limiters still
  run on every request; the defaults would refuse the bench's traffic after 300 or 1,200
  requests); stdout (the pino JSON log lines) goes to a file. One user made with \`gatehouse users
  create\`, one browser session (cookie from \`POST /api/v1/auth/login\`), one access token
  (\`POST /api/v1/auth/token\`, password grant) and one API key (\`POST /api/v1/api-keys\`).
- **CPU µs/request**: the server process's user + system time (\`/proc/PID/stat\`, all threads;
  and its main thread alone from \`/proc/PID/task/PID/stat\`) over the run divided by the requests
  served, read from outside the server. It moves much less than req/s when other processes
  compete for the CPU, and includes the kernel's loopback TCP work for each response.
- **Logging cost**: the same routes on the \`info\` server over the \`silent\` one, round by round.
- **Logins**: Gatehouse's \`PasswordHasher\` in the bench process (raw verifies, while the server
  idles) against \`POST /api/v1/auth/login\` on the \`info\` SQLite server, driven by autocannon (a
  scripted POST client) with the same concurrency; rounds alternate. \`/healthz\` is probed from
  another thread every 10 ms over a keep-alive connection during the login rounds (microsecond
  timer).
- **Session lookups**: rows are inserted in bulk through Kysely (\`INSERT … SELECT\` over a
  recursive CTE) into a scratch SQLite database migrated by Gatehouse; the lookups are the
  repository functions a session-cache miss calls.
`;
}
