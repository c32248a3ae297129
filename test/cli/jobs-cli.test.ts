/**
 * `gatehouse queues …` and `gatehouse jobs …` on both dialects (most commands run in process, a
 * few through the real binary: exit codes, stdin, and every `jobs watch` that follows live): queues
 * created, paused and resumed from the CLI; jobs enqueued, listed, shown, paused, resumed,
 * cancelled and retried (checked with `jobs show --json`); bad input exiting 2; and `jobs watch`
 * as a child process following a job that a worker drives over HTTP on a spawned server (same
 * database): progress in order, exit 0 on success, 1 on failure; `watch --queue` until Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext, vi } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http } from '../helpers/http-client.js';
import { BIN, freePort, killAllChildren, runInPty, serverEnv, type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { cliEnv, cliFor, createUser, expectExit, expectNoStackTrace, inProcessCliFor, login } from './cli-helpers.js';

afterAll(killAllChildren);

// A spawned binary takes about a second (5-8 s at load average 20); the server and the watches are spawned.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

interface JobJson {
  id: string;
  queue: string;
  kind: string;
  state: string;
  payload: unknown;
  priority: number;
  owner_id: string | null;
  attempt: number;
  progress: number;
  error: { message: string } | null;
  idempotency_key: string | null;
}

interface EventJson {
  id: number;
  job_id: string;
  queue: string;
  seq: number;
  type: 'state' | 'progress' | 'log';
  data: Record<string, unknown>;
  created_at: string;
}

/**
 * `gatehouse <args>` left running, with its output readable while it runs. Killed (SIGKILL) when
 * the test ends if it is still alive: `onTestFinished` must be the test's own (from its context),
 * because the dialects run concurrently and the global hook may attach to the other dialect's test,
 * whose end would then kill this child mid-run.
 */
function spawnCli(database: TestDatabase, args: string[], onTestFinished: TestContext['onTestFinished']) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], { cwd: database.dataDir, env: cliEnv(database), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin?.end();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    /** The stdout lines parsed as JSON. */
    events: () =>
      stdout
        .slice(0, stdout.lastIndexOf('\n') + 1)
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as EventJson),
    /** Resolves once `predicate` holds for the output (polled every 20 ms); rejects after `ms` (generous: every CLI call in a test starts a process, slow on a loaded machine). */
    async until(predicate: () => boolean, ms = 60_000) {
      const deadline = Date.now() + ms;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out; stdout:\n${stdout}\nstderr:\n${stderr}`);
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited ${child.exitCode ?? child.signalCode} early; stdout:\n${stdout}\nstderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    /** The exit, with everything printed (rejects after `ms`). */
    async finished(ms = 60_000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const result = await exit;
      clearTimeout(timer);
      return { ...result, stdout, stderr };
    },
  };
}

describe.concurrent.each(dialects)('gatehouse queues and jobs (%s)', (dialect) => {
  let database: TestDatabase;
  /** The command line in this process (most steps). */
  let cli: ReturnType<typeof cliFor>;
  /** The real binary (a few steps that prove it: exit codes, stdin, output of the built dist/). */
  let binary: ReturnType<typeof cliFor>;

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    cli = inProcessCliFor(database);
    binary = cliFor(database);
    expectExit(await binary(['migrate']), 0);
  });
  afterAll(async () => {
    await database?.drop();
  });

  /** Runs the CLI expecting exit 0 and JSON on stdout. */
  async function json<T>(args: string[], input?: string): Promise<T> {
    const result = await cli([...args, '--json'], input);
    expectExit(result, 0);
    return JSON.parse(result.stdout) as T;
  }

  async function showJob(id: string): Promise<{ job: JobJson; events: EventJson[] }> {
    return json(['jobs', 'show', id]);
  }

  it.sequential('queues create, list, show, stats, pause and resume', async () => {
    const created = await json<Record<string, unknown>>([
      'queues',
      'create',
      'cli.media',
      '--lease-seconds',
      '2m',
      '--max-attempts',
      '7',
      '--max-lease-expiries',
      '2',
      '--backoff-base',
      '5',
      '--backoff-max',
      '600',
      '--concurrency',
      '3',
      '--claim-permission',
      'media:claim',
      '--description',
      'video transcodes',
    ]);
    expect(created).toMatchObject({
      name: 'cli.media',
      paused: false,
      lease_seconds: 120,
      max_attempts: 7,
      max_lease_expiries: 2,
      backoff_base_seconds: 5,
      backoff_max_seconds: 600,
      worker_concurrency: 3,
      enqueue_permission: 'jobs:enqueue',
      claim_permission: 'media:claim',
      description: 'video transcodes',
    });

    const again = await binary(['queues', 'create', 'cli.media']);
    expectExit(again, 2);
    expect(again.stderr).toContain('already exists');

    await cli(['jobs', 'enqueue', 'cli.media', '--kind', 'transcode']).then((r) => expectExit(r, 0));
    const listed = await json<{ items: Array<{ name: string; counts: Record<string, number> }> }>(['queues', 'list']);
    expect(listed.items.find((q) => q.name === 'cli.media')).toMatchObject({ counts: { queued: 1, running: 0 } });
    const table = await binary(['queues', 'list']);
    expectExit(table, 0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+PAUSED\s+LEASE\s+MAX ATTEMPTS\s+CONCURRENCY\s+QUEUED\s+RUNNING/);
    expect(table.stdout).toMatch(/cli\.media\s+no\s+120s\s+7\s+3\s+1\s+0/);

    const paused = await json<{ paused: boolean }>(['queues', 'pause', 'cli.media']);
    expect(paused.paused).toBe(true);
    expect((await json<{ paused: boolean }>(['queues', 'show', 'cli.media'])).paused).toBe(true);
    const stats = await json<{ queue: string; paused: boolean; counts: Record<string, number>; active_workers: number }>(['queues', 'stats', 'cli.media']);
    expect(stats).toMatchObject({ queue: 'cli.media', paused: true, counts: { queued: 1, running: 0, succeeded: 0 }, active_workers: 0 });
    const allStats = await json<{ items: Array<{ queue: string }> }>(['queues', 'stats']);
    expect(allStats.items.map((s) => s.queue)).toContain('cli.media');
    expect((await json<{ paused: boolean }>(['queues', 'resume', 'cli.media'])).paused).toBe(false);
    expect((await json<{ paused: boolean }>(['queues', 'show', 'cli.media'])).paused).toBe(false);

    const updated = await json<{ worker_concurrency: number; lease_seconds: number }>(['queues', 'update', 'cli.media', '--concurrency', '5']);
    expect(updated).toMatchObject({ worker_concurrency: 5, lease_seconds: 120 });
  });

  it.sequential('jobs enqueue, list, show, pause, resume, cancel and retry', async () => {
    await cli(['queues', 'create', 'cli.work']).then((r) => expectExit(r, 0));
    const payloadFile = path.join(database.dataDir, 'payload.json');
    writeFileSync(payloadFile, JSON.stringify({ url: 'https://example.com/a.mp4', sizes: [1, 2] }));
    const first = await json<JobJson>(['jobs', 'enqueue', 'cli.work', '--kind', 'resize', '--payload-file', payloadFile, '--priority', '5']);
    expect(first).toMatchObject({ queue: 'cli.work', kind: 'resize', state: 'queued', priority: 5, owner_id: null, payload: { url: 'https://example.com/a.mp4', sizes: [1, 2] } });
    const second = await json<JobJson>(['jobs', 'enqueue', 'cli.work', '--kind', 'thumb', '--payload', '{"n":1}', '--idempotency-key', 'k-1']);
    const replay = await json<JobJson>(['jobs', 'enqueue', 'cli.work', '--kind', 'thumb', '--payload', '{"n":1}', '--idempotency-key', 'k-1']);
    expect(replay.id).toBe(second.id);
    expect(replay.payload).toEqual({ n: 1 });
    // The same key with another body is refused, not answered with the first job.
    const conflict = await cli(['jobs', 'enqueue', 'cli.work', '--kind', 'thumb', '--payload', '{"n":2}', '--idempotency-key', 'k-1']);
    expectExit(conflict, 2);
    const fromStdin = JSON.parse(
      await binary(['jobs', 'enqueue', 'cli.work', '--kind', 'later', '--payload-file', '-', '--delay', '1h', '--json'], '[1,2,3]').then((r) => {
        expectExit(r, 0);
        return r.stdout;
      }),
    ) as JobJson;
    expect(fromStdin.payload).toEqual([1, 2, 3]);

    // Newest first; filters combine.
    const all = await json<{ items: JobJson[] }>(['jobs', 'list', '--queue', 'cli.work']);
    expect(all.items.map((j) => j.id)).toEqual([fromStdin.id, second.id, first.id]);
    const thumbs = await json<{ items: JobJson[] }>(['jobs', 'list', '--queue', 'cli.work', '--kind', 'thumb', '--state', 'queued']);
    expect(thumbs.items.map((j) => j.id)).toEqual([second.id]);
    const page = await json<{ items: JobJson[]; next_cursor: string | null }>(['jobs', 'list', '--queue', 'cli.work', '--limit', '2']);
    expect(page.items).toHaveLength(2);
    expect(page.next_cursor).toBe(second.id);
    const rest = await json<{ items: JobJson[] }>(['jobs', 'list', '--queue', 'cli.work', '--limit', '2', '--cursor', page.next_cursor ?? '']);
    expect(rest.items.map((j) => j.id)).toEqual([first.id]);
    const table = await cli(['jobs', 'list', '--queue', 'cli.work']);
    expectExit(table, 0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+QUEUE\s+KIND\s+STATE\s+ATTEMPT\s+PROGRESS\s+OWNER\s+CREATED$/);
    expect(table.stdout).toContain(first.id);

    const pausedJob = await json<JobJson>(['jobs', 'pause', first.id]);
    expect(pausedJob.state).toBe('paused');
    expect((await showJob(first.id)).job.state).toBe('paused');
    expect((await json<{ items: JobJson[] }>(['jobs', 'list', '--queue', 'cli.work', '--state', 'paused'])).items.map((j) => j.id)).toEqual([first.id]);
    await json(['jobs', 'resume', first.id]);
    expect((await showJob(first.id)).job.state).toBe('queued');

    // Cancelling asks first: without a terminal or an answer it refuses with a hint; "no" cancels the command.
    const unconfirmed = await cli(['jobs', 'cancel', first.id]);
    expectExit(unconfirmed, 2);
    expect(unconfirmed.stderr).toContain('--yes');
    const declined = await binary(['jobs', 'cancel', first.id], 'no\n');
    expectExit(declined, 130);
    expect((await showJob(first.id)).job.state).toBe('queued');
    const piped = await cli(['jobs', 'cancel', second.id], 'yes\n');
    expectExit(piped, 0);
    expect((await showJob(second.id)).job.state).toBe('cancelled');
    await json(['jobs', 'cancel', first.id, '--yes']);
    const cancelled = await showJob(first.id);
    expect(cancelled.job.state).toBe('cancelled');
    expect(cancelled.events.map((e) => [e.seq, e.type, e.data.state])).toEqual([
      [1, 'state', 'queued'],
      [2, 'state', 'paused'],
      [3, 'state', 'queued'],
      [4, 'state', 'cancelled'],
    ]);

    await json(['jobs', 'retry', first.id]);
    expect((await showJob(first.id)).job.state).toBe('queued');
    const notFinished = await cli(['jobs', 'retry', first.id]);
    expectExit(notFinished, 2);
    expect(notFinished.stderr).toMatch(/^error: .*queued.*\(conflict\)/m);

    const text = await cli(['jobs', 'show', first.id]);
    expectExit(text, 0);
    expect(text.stdout).toMatch(/^State:\s+queued$/m);
    expect(text.stdout).toMatch(/^SEQ\s+TIME\s+TYPE\s+DETAIL$/m);
    expect(text.stdout).toContain('cancelled → queued (retry)');
  });

  it.sequential('bad input exits 2 with a clear message', async () => {
    await cli(['queues', 'create', 'cli.bad']).then((r) => expectExit(r, 0));
    const cases: Array<[string[], RegExp]> = [
      [['jobs', 'show', '0190e0c2-0000-7000-8000-000000000000'], /There is no such job/],
      [['jobs', 'cancel', '0190e0c2-0000-7000-8000-000000000000', '--yes'], /There is no such job/],
      [['jobs', 'watch', '0190e0c2-0000-7000-8000-000000000000'], /There is no such job/],
      [['jobs', 'show', 'not-a-job'], /must be a job id/],
      [['jobs', 'list', '--state', 'finished'], /Allowed choices are queued, running, paused/],
      [['jobs', 'list', '--owner', 'nobody@example.com'], /error: .*\(not_found\)/],
      [['jobs', 'enqueue', 'cli.bad', '--kind', 'x', '--payload', '{bad json'], /--payload.*must be JSON/],
      [['jobs', 'enqueue', 'cli.bad', '--kind', 'x', '--payload-file', '/nonexistent/p.json'], /cannot read/],
      [['jobs', 'enqueue', 'cli.bad', '--kind', 'bad kind!'], /kind must match/],
      [['jobs', 'enqueue', 'cli.bad', '--kind', 'x', '--priority', '5000'], /-1000 to 1000/],
      [['jobs', 'enqueue', 'cli.none', '--kind', 'x'], /There is no queue named "cli.none"/],
      [['jobs', 'watch'], /either a job id or --queue/],
      [['jobs', 'watch', '--queue', 'cli.none'], /There is no queue named "cli.none"/],
      [['queues', 'create', 'Bad Name'], /lower-case letters/],
      [['queues', 'create', 'cli.x', '--lease-seconds', '1'], /5\.\.86400 seconds/],
      [['queues', 'create', 'cli.x', '--backoff-base', '60', '--backoff-max', '10'], /backoff_max_seconds must be at least/],
      [['queues', 'stats', 'cli.none'], /There is no queue/],
      [['queues', 'pause', 'cli.none'], /There is no queue/],
    ];
    const results = [];
    // One through the real binary: commander's own refusal, printed by the built dist/.
    for (const [args] of cases) results.push(await (args.includes('finished') ? binary : cli)(args));
    results.forEach((result, i) => {
      const [args, message] = cases[i] ?? [[], /./];
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expectNoStackTrace(result);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stdout).toBe('');
    });
    // Nothing was created by the refused commands.
    expect((await json<{ items: unknown[] }>(['jobs', 'list', '--queue', 'cli.bad'])).items).toEqual([]);
    expect((await json<{ items: Array<{ name: string }> }>(['queues', 'list'])).items.map((q) => q.name)).not.toContain('cli.x');
  });

  describe('watch, with a worker driving jobs over HTTP', () => {
    let server: ServerProcess;
    let workerCookie: string;

    beforeAll(async () => {
      server = await startServerProcess({
        env: serverEnv({ port: await freePort(), dataDir: database.dataDir, databaseUrl: database.url }),
        readyTimeoutMs: 60_000,
      });
      const email = uniqueEmail('cli-worker');
      await createUser(cli, email, { name: 'Worker' });
      expectExit(await cli(['users', 'set-role', email, 'worker']), 0);
      workerCookie = (await login(server, email, STRONG_PASSWORD)).cookie;
    });
    afterAll(async () => {
      await server?.stop();
    });

    /** A worker of its own (one API key = one worker, so concurrent tests never hit each other's limit). */
    async function newWorker() {
      const key = await http(server.url, '/api/v1/api-keys', { json: { name: 'cli-test', scopes: ['jobs:claim'], password: STRONG_PASSWORD }, cookie: workerCookie, origin: server.url });
      expect(key.status, key.text).toBe(201);
      const secret = key.json.secret as string;
      const call = async (path: string, body: Record<string, unknown>) => {
        const res = await http(server.url, `/api/v1/worker/${path}`, { json: body, bearer: secret });
        expect([200, 204], `${path}: ${res.status} ${res.text}`).toContain(res.status);
        return res.json;
      };
      return {
        call,
        /** Claims `id` from `queue`; @returns the attempt. */
        async claim(queue: string, id: string): Promise<number> {
          const claimed = await call('claim', { queues: [queue], wait_s: 5 });
          expect((claimed.job as JobJson).id).toBe(id);
          return claimed.attempt as number;
        },
      };
    }

    it.sequential('jobs show names the worker holding a job (its worker_name), with the id of its API key', async () => {
      await cli(['queues', 'create', 'cli.show']).then((r) => expectExit(r, 0));
      const w = await newWorker();
      const job = await json<JobJson>(['jobs', 'enqueue', 'cli.show', '--kind', 'render']);
      const claimed = await w.call('claim', { queues: ['cli.show'], wait_s: 5, worker_name: 'render-box-7' });
      expect((claimed.job as JobJson).id).toBe(job.id);
      const shown = await showJob(job.id);
      const workerId = (shown.job as JobJson & { worker_id: string }).worker_id;
      expect(shown.job).toMatchObject({ state: 'running', worker_name: 'render-box-7' });
      const text = await cli(['jobs', 'show', job.id]);
      expectExit(text, 0);
      expect(text.stdout).toMatch(new RegExp(`^Worker:\\s+render-box-7 \\(API key ${workerId}\\)$`, 'm'));
      const queued = await json<JobJson>(['jobs', 'enqueue', 'cli.show', '--kind', 'render']);
      expect((await showJob(queued.id)).job).toMatchObject({ worker_id: null, worker_name: null });
    });

    it.sequential('jobs watch --json prints each event as it happens and exits 0 when the job succeeds', async ({ onTestFinished }) => {
      await cli(['queues', 'create', 'cli.watch']).then((r) => expectExit(r, 0));
      const w = await newWorker();
      const job = await json<JobJson>(['jobs', 'enqueue', 'cli.watch', '--kind', 'encode']);
      const watch = spawnCli(database, ['jobs', 'watch', job.id, '--json', '--interval-ms', '50'], onTestFinished);
      // The history first (the enqueue), then live events: each step waits until the watch printed the previous one.
      await watch.until(() => watch.events().length === 1);
      const attempt = await w.claim('cli.watch', job.id);
      await watch.until(() => watch.events().some((e) => e.data.state === 'running'));
      for (const [progress, message] of [
        [0.25, 'a quarter'],
        [0.5, 'half way'],
        [0.75, 'three quarters'],
      ] as const) {
        await w.call(`jobs/${job.id}/heartbeat`, { attempt, progress, message });
        await watch.until(() => watch.events().some((e) => e.type === 'progress' && e.data.progress === progress));
      }
      await w.call(`jobs/${job.id}/log`, { attempt, lines: ['frame 1000', 'frame 2000'] });
      await w.call(`jobs/${job.id}/complete`, { attempt, result: { frames: 2000 } });
      const result = await watch.finished();
      expect(result.code, result.stderr).toBe(0);
      expectNoStackTrace(result);
      const events = watch.events();
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.every((e) => e.job_id === job.id && e.queue === 'cli.watch')).toBe(true);
      expect(events.map((e) => [e.type, e.type === 'state' ? e.data.state : e.type === 'progress' ? e.data.progress : e.data.lines])).toEqual([
        ['state', 'queued'],
        ['state', 'running'],
        ['progress', 0.25],
        ['progress', 0.5],
        ['progress', 0.75],
        ['log', ['frame 1000', 'frame 2000']],
        ['state', 'succeeded'],
      ]);
      expect(events[3]?.data.message).toBe('half way');

      // Watching a finished job replays its history and exits at once with its outcome; the text form is one line per event.
      const again = await cli(['jobs', 'watch', job.id]);
      expectExit(again, 0);
      const lines = again.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(8);
      expect(lines[3]).toMatch(/#4 progress 50% half way$/);
      expect(lines[5]).toMatch(/#6 log frame 1000$/);
      // (The completion's state event carries no `from`: a fenced completion may end a running or a paused job.)
      expect(lines[7]).toMatch(/#7 state (running → )?succeeded attempt 1$/);
    });

    it.sequential('jobs watch exits 1 with the error when the job fails', async ({ onTestFinished }) => {
      await cli(['queues', 'create', 'cli.fail']).then((r) => expectExit(r, 0));
      const w = await newWorker();
      const job = await json<JobJson>(['jobs', 'enqueue', 'cli.fail', '--kind', 'encode']);
      const watch = spawnCli(database, ['jobs', 'watch', job.id, '--interval-ms', '50'], onTestFinished);
      await watch.until(() => watch.stdout().includes('state queued'));
      const attempt = await w.claim('cli.fail', job.id);
      await w.call(`jobs/${job.id}/heartbeat`, { attempt, progress: 0.1, message: 'starting' });
      await watch.until(() => watch.stdout().includes('progress 10% starting'));
      await w.call(`jobs/${job.id}/fail`, { attempt, error: { message: 'codec not supported' }, retryable: false });
      const result = await watch.finished();
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expectNoStackTrace(result);
      expect(result.stdout).toMatch(/state running → failed.*codec not supported/);
      expect(result.stderr).toContain(`error: job ${job.id} ended failed: codec not supported`);

      // A cancelled job ends the watch with 1 too.
      const other = await json<JobJson>(['jobs', 'enqueue', 'cli.fail', '--kind', 'encode']);
      const watchOther = spawnCli(database, ['jobs', 'watch', other.id, '--json', '--interval-ms', '50'], onTestFinished);
      await watchOther.until(() => watchOther.events().length === 1);
      await json(['jobs', 'cancel', other.id, '--yes']);
      const cancelled = await watchOther.finished();
      expect(cancelled.code, cancelled.stderr).toBe(1);
      expect(watchOther.events().at(-1)?.data.state).toBe('cancelled');
      expect(cancelled.stderr).toContain('ended cancelled');
    });

    it.sequential('on a terminal jobs watch redraws a progress bar in place and Ctrl-C exits 130', async () => {
      await cli(['queues', 'create', 'cli.tty']).then((r) => expectExit(r, 0));
      const w = await newWorker();
      const job = await json<JobJson>(['jobs', 'enqueue', 'cli.tty', '--kind', 'encode']);
      const attempt = await w.claim('cli.tty', job.id);
      await w.call(`jobs/${job.id}/heartbeat`, { attempt, progress: 0.4, message: 'encoding' });
      const result = await runInPty([process.execPath, BIN, 'jobs', 'watch', job.id, '--interval-ms', '50'], {
        env: cliEnv(database),
        steps: [{ waitFor: '40% encoding', send: '\x03' }],
        timeoutMs: 60_000,
      });
      expect(result.completed, result.output).toBe(true);
      expect(result.code, result.output).toBe(130);
      expectNoStackTrace(result);
      // State changes are printed as lines; progress only redraws the bar (carriage return + erase line).
      expect(result.output).toMatch(/state queued → running attempt 1\r?\n/);
      expect(result.output).not.toMatch(/progress 40%/);
      expect(result.output).toContain('\r\x1b[2Krunning   [############------------------]  40% encoding');
      expect(result.output).toContain('Cancelled');
    });

    it.sequential('jobs watch --queue streams every new event of the queue until Ctrl-C (exit 130)', async ({ onTestFinished }) => {
      await cli(['queues', 'create', 'cli.stream']).then((r) => expectExit(r, 0));
      const before = await json<JobJson>(['jobs', 'enqueue', 'cli.stream', '--kind', 'old']);
      const watch = spawnCli(database, ['jobs', 'watch', '--queue', 'cli.stream', '--json', '--interval-ms', '50'], onTestFinished);
      // It starts from now: once it says so, the queue's history is behind it.
      await watch.until(() => watch.stderr().includes('Watching queue cli.stream'));
      const a = await json<JobJson>(['jobs', 'enqueue', 'cli.stream', '--kind', 'new']);
      const b = await json<JobJson>(['jobs', 'enqueue', 'cli.stream', '--kind', 'new']);
      await json(['jobs', 'pause', a.id]);
      await watch.until(() => watch.events().length >= 3);
      // The lookback window re-reads recent events; none may be printed twice.
      await new Promise((r) => setTimeout(r, 500));
      watch.child.kill('SIGINT');
      const result = await watch.finished();
      expect(result.code).toBe(130);
      expectNoStackTrace(result);
      const events = watch.events();
      expect(events.map((e) => [e.job_id, e.data.state])).toEqual([
        [a.id, 'queued'],
        [b.id, 'queued'],
        [a.id, 'paused'],
      ]);
      expect(events.some((e) => e.job_id === before.id)).toBe(false);
    });
  });
});
