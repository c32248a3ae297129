/**
 * `gatehouse jobs …`: list, show, enqueue, pause, resume, cancel and retry jobs as an operator
 * (full access, like every CLI command), and `jobs watch` for live progress in the terminal.
 *
 * `watch` runs in its own process, possibly on another machine than the server or beside it on
 * the same SQLite file, so it cannot use the server's in-process hub: it polls the `job_event`
 * table (one job by its gapless per-job `seq`, a queue by global event id).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Argument, type Command, InvalidArgumentError, Option } from 'commander';
import type { Gatehouse } from '../../container.js';
import type { EnqueueInput } from '../../jobs/jobs.service.js';
import { FINAL_STATES, JOB_STATES, type JobEventView, type JobState, type JobView } from '../../jobs/model.js';
import { isAppError } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { CLI_ACTOR, intIn, parseDuration, positiveInt, withGatehouse } from '../context.js';
import { ExitCode, ExitError, renderTable } from '../output.js';
import { confirmOrHint, readStdin } from '../prompts.js';

/** Events read per query while watching. */
const WATCH_PAGE = 500;
/**
 * How long a queue watch keeps re-reading events it has already printed. On PostgreSQL global
 * event ids are handed out before commit, so a transaction that commits late can add an id below
 * one already seen; re-reading the last few seconds catches it (docs/jobs.md: queue streams are
 * best-effort in order).
 */
const QUEUE_LOOKBACK_MS = 3000;

/** commander parser for a job id (UUID). */
function jobId(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError('must be a job id (a UUID such as 0190e0c2-…)');
  return value.toLowerCase();
}

/** commander parser for a delay: seconds, or `90s`, `15m`, `12h`, `7d`, `2w` (at most 365 days). */
function delaySeconds(value: string): number {
  const seconds = parseDuration(value);
  if (seconds === null || seconds > 365 * 86_400) throw new InvalidArgumentError('must be seconds (or 90s, 15m, 12h, 7d), at most 365 days');
  return seconds;
}

/** commander parser for a JSON value. */
function jsonValue(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`must be JSON, e.g. '{"url":"https://…"}' (${(error as Error).message})`);
  }
}

/** `0.4213` → `42%`. */
function percent(progress: number): string {
  return `${Math.floor(progress * 100)}%`;
}

/** Resolves `--owner` (an email or a user id) to a user id. @throws AppError `not_found`. */
async function ownerId(gatehouse: Gatehouse, emailOrId: string): Promise<string> {
  return isUuid(emailOrId) ? (await gatehouse.users.get(emailOrId.toLowerCase())).id : (await gatehouse.users.getByEmail(emailOrId)).id;
}

/** Owner ids → emails for display (a deleted owner shows as its id; operator jobs as `-`). */
async function ownerEmails(gatehouse: Gatehouse, jobs: JobView[]): Promise<Map<string, string>> {
  const emails = new Map<string, string>();
  for (const id of new Set(jobs.map((j) => j.owner_id).filter((id): id is string => id !== null))) {
    try {
      emails.set(id, (await gatehouse.users.get(id)).email);
    } catch (error) {
      if (!isAppError(error)) throw error;
      emails.set(id, id);
    }
  }
  return emails;
}

/** One event as text lines (a `log` event gives one line per logged line). */
export function describeEvent(event: JobEventView): string[] {
  const data = event.data;
  if (event.type === 'progress') {
    const message = typeof data.message === 'string' && data.message ? ` ${data.message}` : '';
    const metrics =
      data.metrics && typeof data.metrics === 'object'
        ? ` (${Object.entries(data.metrics as Record<string, unknown>)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(', ')})`
        : '';
    return [`progress ${percent(Number(data.progress ?? 0))}${message}${metrics}`];
  }
  if (event.type === 'log') {
    const lines = Array.isArray(data.lines) ? (data.lines as unknown[]) : [];
    return lines.map((line) => `log ${String(line)}`);
  }
  const parts = [`state ${typeof data.from === 'string' ? `${data.from} → ` : ''}${String(data.state)}`];
  if (typeof data.attempt === 'number' && data.attempt > 0) parts.push(`attempt ${data.attempt}`);
  if (typeof data.reason === 'string') parts.push(`(${data.reason})`);
  if (typeof data.run_after === 'string') parts.push(`next try after ${data.run_after}`);
  const error = data.error as { message?: unknown } | undefined;
  if (error && typeof error.message === 'string') parts.push(`error: ${error.message}`);
  return [parts.join(' ')];
}

/**
 * Text lines of a job: field, value. `worker` is the holding worker's name (`worker_name` of its
 * claim), shown with the id of its API key (`worker_id`).
 */
function describeJob(job: JobView, owner: string, worker: string | null): string {
  const rows: Array<[string, string]> = [
    ['ID', job.id],
    ['Queue', job.queue],
    ['Kind', job.kind],
    ['State', job.state],
    ['Progress', `${percent(job.progress)}${job.progress_message ? ` ${job.progress_message}` : ''}`],
    ['Attempt', String(job.attempt)],
    ['Failures', String(job.failures)],
    ['Lease expiries', String(job.lease_expiries)],
    ['Priority', String(job.priority)],
    ['Run after', job.run_after],
    ['Owner', owner],
    ['Worker', job.worker_id === null ? '-' : `${worker ?? '(unknown)'} (API key ${job.worker_id})`],
    ['Lease expires', job.lease_expires_at ?? '-'],
    ['Idempotency key', job.idempotency_key ?? '-'],
    ['Payload', JSON.stringify(job.payload)],
    ['Metrics', job.metrics ? JSON.stringify(job.metrics) : '-'],
    ['Result', job.result === null ? '-' : JSON.stringify(job.result)],
    ['Error', job.error ? `${job.error.message}${job.error.details === undefined ? '' : ` ${JSON.stringify(job.error.details)}`}` : '-'],
    ['Input files', job.input_files.join(', ') || '-'],
    ['Output files', job.output_files.join(', ') || '-'],
    ['Checkpoint', job.checkpoint_file_id ?? '-'],
    ['Parent', job.parent_type ? `${job.parent_type} ${job.parent_id ?? ''}`.trim() : '-'],
    ['Created', job.created_at],
    ['Started', job.started_at ?? '-'],
    ['Heartbeat', job.heartbeat_at ?? '-'],
    ['Finished', job.finished_at ?? '-'],
    ['Updated', job.updated_at],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n');
}

function printJob(job: JobView, json: boolean, message: string): void {
  console.log(json ? JSON.stringify(job, null, 2) : message);
}

/**
 * A status line redrawn in place on a terminal (`\r` + erase line), with other lines printed
 * above it. Used only when stdout is a terminal.
 */
function createLiveLine(stream: NodeJS.WriteStream = process.stdout) {
  let current = '';
  const draw = () => {
    const width = stream.columns ? stream.columns - 1 : 120;
    stream.write(`\r\x1b[2K${current.slice(0, width)}`);
  };
  return {
    /** Replaces the status line (redrawn only when it changed). */
    set(text: string) {
      if (text === current) return;
      current = text;
      draw();
    },
    /** Prints `line` above the status line. */
    print(line: string) {
      stream.write(`\r\x1b[2K${line}\n`);
      if (current) draw();
    },
    /** Removes the status line. */
    clear() {
      if (current) stream.write('\r\x1b[2K');
      current = '';
    },
  };
}

/** `[##########----------]  50% message` for a progress of 0..1. */
function progressBar(state: string, progress: number, message: string | null): string {
  const width = 30;
  const filled = Math.round(Math.min(1, Math.max(0, progress)) * width);
  return `${state.padEnd(9)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent(progress).padStart(4)}${message ? ` ${message}` : ''}`;
}

interface WatchOptions {
  queue?: string;
  intervalMs: number;
  json: boolean;
}

/**
 * Follows one job: prints its history, then every new event, until it reaches a final state.
 * @throws ExitError 1 when the job ends failed, dead or cancelled; AppError `not_found`.
 */
async function watchJob(gatehouse: Gatehouse, id: string, opts: WatchOptions): Promise<void> {
  const { job } = await gatehouse.jobs.get(id, null, 1);
  const live = !opts.json && process.stdout.isTTY ? createLiveLine() : null;
  let state: JobState = job.state;
  let progress = job.progress;
  let message = job.progress_message;
  let afterSeq = 0;
  for (;;) {
    const events = await gatehouse.jobs.events(id, afterSeq, WATCH_PAGE, null);
    for (const event of events) {
      afterSeq = event.seq;
      if (event.type === 'state') {
        state = event.data.state as JobState;
        // A retried or re-queued job starts its progress again.
        if (state === 'queued') [progress, message] = [0, null];
      } else if (event.type === 'progress') {
        progress = Number(event.data.progress ?? 0);
        message = typeof event.data.message === 'string' ? event.data.message : null;
      }
      if (opts.json) console.log(JSON.stringify(event));
      else if (live) {
        if (event.type !== 'progress') for (const line of describeEvent(event)) live.print(`${event.created_at}  ${line}`);
      } else for (const line of describeEvent(event)) console.log(`${event.created_at}  #${event.seq} ${line}`);
    }
    live?.set(progressBar(state, progress, message));
    if (events.length < WATCH_PAGE) {
      if (FINAL_STATES.includes(state)) break;
      await sleep(opts.intervalMs);
    }
  }
  live?.clear();
  if (state === 'succeeded') {
    if (live) console.log(`Job ${id} succeeded.`);
    return;
  }
  const { job: final } = await gatehouse.jobs.get(id, null, 1);
  const reason = final.error ? `: ${final.error.message}` : '';
  throw new ExitError(ExitCode.failure, `error: job ${id} ended ${state}${reason}`);
}

/** Follows every event of a queue's jobs from now until Ctrl-C. @throws AppError `not_found`. */
async function watchQueue(gatehouse: Gatehouse, queue: string, opts: WatchOptions): Promise<never> {
  await gatehouse.queues.get(queue);
  let settled = await gatehouse.jobs.latestQueueEventId(queue);
  /** Ids above `settled` already printed, with when they were first read. */
  const seen = new Map<number, number>();
  console.error(`Watching queue ${queue} from now; Ctrl-C to stop.`);
  for (;;) {
    let after = settled;
    let page;
    do {
      page = await gatehouse.jobs.queueEvents(queue, after, WATCH_PAGE);
      for (const event of page) {
        after = event.id;
        if (seen.has(event.id)) continue;
        seen.set(event.id, Date.now());
        if (opts.json) console.log(JSON.stringify(event));
        else for (const line of describeEvent(event)) console.log(`${event.created_at}  ${event.job_id} #${event.seq} ${line}`);
      }
    } while (page.length === WATCH_PAGE);
    const horizon = Date.now() - QUEUE_LOOKBACK_MS;
    for (const [id, at] of seen) if (at <= horizon && id > settled) settled = id;
    for (const id of seen.keys()) if (id <= settled) seen.delete(id);
    await sleep(opts.intervalMs);
  }
}

interface ListOptions {
  queue?: string;
  state?: JobState;
  kind?: string;
  owner?: string;
  limit: number;
  cursor?: string;
  json: boolean;
}

interface EnqueueOptions {
  kind: string;
  payload?: unknown;
  payloadFile?: string;
  priority?: number;
  delay?: number;
  runAfter?: string;
  idempotencyKey?: string;
  json: boolean;
}

/** Registers the `jobs` command tree on `program`. */
export function registerJobCommands(program: Command): void {
  const jobs = program.command('jobs').description('Jobs: list, inspect, enqueue, pause, resume, cancel, retry, and watch live progress.');

  jobs
    .command('list')
    .description('List jobs, newest first, with filters.')
    .option('--queue <name>', 'only this queue')
    .addOption(new Option('--state <state>', 'only this state').choices(JOB_STATES))
    .option('--kind <kind>', 'only this kind')
    .option('--owner <user>', "only this owner's jobs (email or user id)")
    .option('--limit <n>', 'page size (at most 1000)', positiveInt, 50)
    .option('--cursor <id>', 'continue after this job id (printed at the end of the previous page)', jobId)
    .option('--json', 'print JSON instead of a table', false)
    .action(async (opts: ListOptions) => {
      await withGatehouse(async (gatehouse) => {
        const page = await gatehouse.jobs.list(
          {
            queue: opts.queue,
            state: opts.state,
            kind: opts.kind,
            ownerId: opts.owner === undefined ? undefined : await ownerId(gatehouse, opts.owner),
            limit: Math.min(opts.limit, 1000),
            afterId: opts.cursor,
          },
          null,
        );
        if (opts.json) return console.log(JSON.stringify({ items: page.items, next_cursor: page.next }, null, 2));
        if (page.items.length === 0) return console.log('No jobs.');
        const emails = await ownerEmails(gatehouse, page.items);
        console.log(
          renderTable(
            page.items.map((j) => ({
              ...j,
              pct: percent(j.progress),
              owner: j.owner_id === null ? null : (emails.get(j.owner_id) ?? j.owner_id),
            })),
            [
              ['ID', 'id'],
              ['QUEUE', 'queue'],
              ['KIND', 'kind'],
              ['STATE', 'state'],
              ['ATTEMPT', 'attempt'],
              ['PROGRESS', 'pct'],
              ['OWNER', 'owner'],
              ['CREATED', 'created_at'],
            ],
          ),
        );
        if (page.next) console.log(`\nMore jobs: gatehouse jobs list --cursor ${page.next}`);
      });
    });

  jobs
    .command('show')
    .description('Show one job with all its fields and its recent events.')
    .addArgument(new Argument('<id>', 'job id').argParser(jobId))
    .option('--events <n>', 'how many of the latest events to show (at most 1000)', positiveInt, 20)
    .option('--json', 'print JSON ({job, events}; job also has worker_name)', false)
    .action(async (id: string, opts: { events: number; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const { job, events } = await gatehouse.jobs.get(id, null, Math.min(opts.events, 1000));
        // Operators know workers by name; worker_id is the id of the worker's API key.
        const workerName = job.worker_id === null ? null : await gatehouse.jobs.workerName(job.worker_id);
        if (opts.json) return console.log(JSON.stringify({ job: { ...job, worker_name: workerName }, events }, null, 2));
        const owner = job.owner_id === null ? '- (operator)' : ((await ownerEmails(gatehouse, [job])).get(job.owner_id) ?? job.owner_id);
        console.log(describeJob(job, owner, workerName));
        if (events.length === 0) return;
        console.log(`\nLatest events:`);
        console.log(
          renderTable(
            events.flatMap((e) => describeEvent(e).map((detail) => ({ seq: e.seq, time: e.created_at, type: e.type, detail: detail.replace(/^\w+ /, '') }))),
            [
              ['SEQ', 'seq'],
              ['TIME', 'time'],
              ['TYPE', 'type'],
              ['DETAIL', 'detail'],
            ],
          ),
        );
      });
    });

  jobs
    .command('enqueue <queue>')
    .description('Enqueue a job as the operator (no owner); prints its id.')
    .requiredOption('--kind <kind>', 'what the job is (workers pick handlers by kind)')
    .addOption(new Option('--payload <json>', 'the payload, JSON (default {})').argParser(jsonValue).conflicts('payloadFile'))
    .option('--payload-file <file>', 'read the JSON payload from a file ("-": standard input)')
    .option('--priority <n>', 'higher runs first, -1000..1000 (default 0)', intIn(-1000, 1000))
    .addOption(new Option('--delay <s>', 'not claimed for this long: seconds or 90s, 15m, 12h, 7d').argParser(delaySeconds).conflicts('runAfter'))
    .option('--run-after <time>', 'not claimed before this ISO-8601 time')
    .option('--idempotency-key <key>', 'enqueueing the same key (as the operator) in this queue again with the same body returns the existing job; another body is refused')
    .option('--json', 'print the job as JSON', false)
    .action(async (queue: string, opts: EnqueueOptions) => {
      let payload = opts.payload;
      if (opts.payloadFile !== undefined) {
        let text: string;
        try {
          text = opts.payloadFile === '-' ? await readStdin() : readFileSync(opts.payloadFile, 'utf8');
        } catch (error) {
          throw new ExitError(ExitCode.invalidInput, `error: cannot read ${opts.payloadFile}: ${(error as Error).message}`);
        }
        try {
          payload = JSON.parse(text) as unknown;
        } catch (error) {
          throw new ExitError(ExitCode.invalidInput, `error: ${opts.payloadFile} is not JSON: ${(error as Error).message}`);
        }
      }
      if (opts.runAfter !== undefined && Number.isNaN(Date.parse(opts.runAfter))) {
        throw new ExitError(ExitCode.invalidInput, 'error: --run-after must be an ISO-8601 time such as 2030-01-31T12:00:00Z');
      }
      if (opts.idempotencyKey !== undefined && (opts.idempotencyKey.length < 1 || opts.idempotencyKey.length > 200)) {
        throw new ExitError(ExitCode.invalidInput, 'error: --idempotency-key is 1 to 200 characters');
      }
      const input: EnqueueInput = {
        kind: opts.kind,
        payload: payload ?? {},
        priority: opts.priority,
        delay_s: opts.delay,
        run_after: opts.runAfter === undefined ? undefined : new Date(opts.runAfter).toISOString(),
        idempotency_key: opts.idempotencyKey,
      };
      await withGatehouse(async (gatehouse) => {
        const { job, replayed } = await gatehouse.jobs.enqueue(queue, input, CLI_ACTOR);
        printJob(
          job,
          opts.json,
          replayed
            ? `Job ${job.id} already exists with this idempotency key (${job.state}); nothing new was enqueued.`
            : `Enqueued job ${job.id} (${job.kind}) in ${job.queue}${job.run_after > job.created_at ? `, not before ${job.run_after}` : ''}.`,
        );
      });
    });

  const actions = [
    ['pause', 'Pause a job: a queued one is not claimed; a running one is told to pause at its next heartbeat (it keeps its worker).'],
    ['resume', 'Resume a paused job.'],
    ['retry', 'Queue a failed, dead or cancelled job again, with fresh failure and lease-expiry counts.'],
  ] as const;
  for (const [verb, description] of actions) {
    jobs
      .command(verb)
      .description(description)
      .addArgument(new Argument('<id>', 'job id').argParser(jobId))
      .option('--json', 'print the job as JSON', false)
      .action(async (id: string, opts: { json: boolean }) => {
        await withGatehouse(async (gatehouse) => {
          const job = await gatehouse.jobs[verb](id, null, CLI_ACTOR);
          printJob(job, opts.json, `Job ${job.id} is ${job.state}.`);
        });
      });
  }

  jobs
    .command('cancel')
    .description('Cancel a job that has not finished (its worker is told at its next heartbeat). Asks to confirm.')
    .addArgument(new Argument('<id>', 'job id').argParser(jobId))
    .option('--yes', 'skip the confirmation (scripts)', false)
    .option('--json', 'print the job as JSON', false)
    .action(async (id: string, opts: { yes: boolean; json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        if (!opts.yes) {
          const { job } = await gatehouse.jobs.get(id, null, 1);
          await confirmOrHint(`Cancel job ${job.id} (${job.kind} in ${job.queue}, ${job.state})?`, 'Pass --yes to cancel without asking.');
        }
        const job = await gatehouse.jobs.cancel(id, null, CLI_ACTOR);
        printJob(job, opts.json, `Job ${job.id} is ${job.state}.`);
      });
    });

  jobs
    .command('watch')
    .description(
      'Follow a job live: its history, then each new event. On a terminal a progress bar is redrawn in place; otherwise (or with --json) one line per event. Exit 0 when it succeeds, 1 when it ends failed, dead or cancelled. With --queue NAME: every new event of the queue until Ctrl-C.',
    )
    .addArgument(new Argument('[id]', 'job id').argParser(jobId))
    .option('--queue <name>', 'watch every job of this queue instead of one job')
    .option('--interval-ms <ms>', 'how often to look for new events', intIn(20, 60_000), 250)
    .option('--json', 'one JSON event per line ({id, job_id, queue, seq, type, data, created_at})', false)
    .action(async (id: string | undefined, opts: WatchOptions) => {
      if ((id === undefined) === (opts.queue === undefined)) {
        throw new ExitError(ExitCode.invalidInput, 'error: give either a job id or --queue NAME.');
      }
      await withGatehouse(async (gatehouse) => {
        if (opts.queue !== undefined) await watchQueue(gatehouse, opts.queue, opts);
        else if (id !== undefined) await watchJob(gatehouse, id, opts);
      });
    });
}
