/**
 * `gatehouse challenges …` and `gatehouse submissions …`: the organisers' command line (operators:
 * full access). Every command takes `--json` (one JSON object per line, or one object).
 *
 * `submissions watch` runs in its own process, possibly beside a server on the same SQLite file,
 * so it polls the submission (every `--interval-ms`, default 500) rather than the server's hub.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, InvalidArgumentError } from 'commander';
import type { ActorContext } from '../audit/audit.service.js';
import { ExitCode, ExitError, renderTable } from '../cli/output.js';
import { createProgressBar } from '../cli/progress.js';
import type { OpenModule } from '../modules/contract.js';
import { isUuid } from '../shared/ids.js';
import type { ChallengeService } from './challenges.service.js';
import type { ChallengeInput, ChallengePatch, ChallengeView, SubmissionView } from './challenges.views.js';

/** Who acts in the audit log (as the platform's own commands: an operator). Not imported from cli/context, which builds Gatehouse and would import this module back. */
const CLI_ACTOR: ActorContext = { actorId: null, ip: null, userAgent: 'gatehouse-cli' };

/** commander parser for a positive integer. */
function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^[0-9]{1,9}$/.test(value) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** commander parser for a JSON object. */
function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(`must be JSON (${(error as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** commander parser for `kind@queue`. */
function evaluator(value: string, previous: Array<{ kind: string; queue: string }> = []): Array<{ kind: string; queue: string }> {
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError('must be KIND@QUEUE, e.g. score-predictions@evaluations');
  return [...previous, { kind: value.slice(0, at), queue: value.slice(at + 1) }];
}

/** commander parser for a submission id. */
function submissionId(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError('must be a submission id (a UUID)');
  return value.toLowerCase();
}

/** `asc:score` / `desc:score`. */
function rule(value: string): { score: string; direction: 'asc' | 'desc' } {
  const [direction, score] = value.split(':');
  if ((direction !== 'asc' && direction !== 'desc') || !score) throw new InvalidArgumentError('must be desc:SCORE or asc:SCORE, e.g. desc:accuracy');
  return { score, direction };
}

function printChallenges(items: ChallengeView[], json: boolean | undefined): void {
  if (json) {
    for (const c of items) console.log(JSON.stringify(c));
    return;
  }
  const rows = items.map((c) => ({
    slug: c.slug,
    title: c.title,
    active: c.active ? 'yes' : 'no',
    visibility: c.visibility,
    evaluators: c.evaluators.map((e) => `${e.kind}@${e.queue}`).join(','),
    ranking: `${c.leaderboard.direction}:${c.leaderboard.score}`,
  }));
  console.log(renderTable(rows, [['SLUG', 'slug'], ['TITLE', 'title'], ['ACTIVE', 'active'], ['VISIBILITY', 'visibility'], ['EVALUATORS', 'evaluators'], ['RANKING', 'ranking']]));
}

function printChallenge(c: ChallengeView, json: boolean | undefined): void {
  if (json) return void console.log(JSON.stringify(c));
  const lines = [
    `${c.slug}: ${c.title}`,
    `  active ${c.active ? 'yes' : 'no'}, ${c.visibility}`,
    `  window ${c.opens_at ?? '-'} .. ${c.closes_at ?? '-'}`,
    `  evaluators ${c.evaluators.map((e) => `${e.kind}@${e.queue}`).join(', ')}`,
    `  leaderboard ${c.leaderboard.direction} ${c.leaderboard.score}`,
    `  limits per_day ${c.limits.per_day ?? 'unlimited'}, concurrent ${c.limits.concurrent ?? 'unlimited'}`,
  ];
  if (c.url) lines.push(`  url ${c.url}`);
  console.log(lines.join('\n'));
}

function printSubmissions(items: SubmissionView[], json: boolean | undefined): void {
  if (json) {
    for (const s of items) console.log(JSON.stringify(s));
    return;
  }
  const rows = items.map((s) => ({
    id: s.id,
    user: s.user_id,
    state: s.state,
    scores: Object.entries(s.scores).map(([k, v]) => `${k}=${v}`).join(' '),
    created: s.created_at,
  }));
  console.log(renderTable(rows, [['ID', 'id'], ['USER', 'user'], ['STATE', 'state'], ['SCORES', 'scores'], ['CREATED', 'created']]));
}

interface CreateOptions {
  title: string;
  description?: string;
  url?: string;
  evaluator: Array<{ kind: string; queue: string }>;
  rank: { score: string; direction: 'asc' | 'desc' };
  perDay?: number;
  concurrent?: number;
  visibility?: 'public' | 'participants';
  opensAt?: string;
  closesAt?: string;
  inactive?: boolean;
  json?: boolean;
}

/** Adds `challenges` and `submissions` to the `gatehouse` program. */
export function registerChallengeCommands(program: Command, open: OpenModule<ChallengeService>): void {
  const challenges = program.command('challenges').description('Challenges: create, edit, activate, list, resources, leaderboards (challenges module).');

  challenges
    .command('list')
    .description('List every challenge.')
    .option('--json', 'one JSON object per line')
    .action((o: { json?: boolean }) =>
      open(async (service) => {
        const items: ChallengeView[] = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await service.list(null, { limit: 200, afterId });
          items.push(...page.items);
          if (!page.next) break;
          afterId = page.next;
        }
        printChallenges(items, o.json);
      }),
    );

  challenges
    .command('show <slug>')
    .description('Show one challenge.')
    .option('--json', 'one JSON object')
    .action((slug: string, o: { json?: boolean }) => open(async (service) => printChallenge(await service.get(slug, null), o.json)));

  challenges
    .command('create <slug>')
    .description('Create a challenge.')
    .requiredOption('--title <title>', 'its title')
    .option('--description <text>', 'its description')
    .option('--url <url>', 'its web page')
    .requiredOption('--evaluator <kind@queue>', 'an evaluator: job KIND run on QUEUE (repeatable), e.g. score-predictions@evaluations', evaluator)
    .requiredOption('--rank <direction:score>', 'leaderboard rule, e.g. desc:accuracy', rule)
    .option('--per-day <n>', 'most submissions per participant in 24 h', positiveInt)
    .option('--concurrent <n>', 'most submissions of one participant evaluating at once', positiveInt)
    .option('--visibility <v>', 'public (default) or participants')
    .option('--opens-at <iso>', 'submissions accepted from')
    .option('--closes-at <iso>', 'submissions accepted until')
    .option('--inactive', 'create it inactive (activate later)')
    .option('--json', 'one JSON object')
    .action((slug: string, o: CreateOptions) =>
      open(async (service) => {
        if (o.visibility && o.visibility !== 'public' && o.visibility !== 'participants') throw new ExitError(ExitCode.invalidInput, 'error: --visibility must be public or participants');
        const input: ChallengeInput = {
          slug,
          title: o.title,
          description: o.description,
          url: o.url,
          active: !o.inactive,
          opens_at: o.opensAt,
          closes_at: o.closesAt,
          evaluators: o.evaluator,
          leaderboard: o.rank,
          limits: { per_day: o.perDay ?? null, concurrent: o.concurrent ?? null },
          visibility: o.visibility,
        };
        printChallenge(await service.create(input, null), o.json);
      }),
    );

  challenges
    .command('edit <slug>')
    .description('Change a challenge: --set takes a JSON object of the fields to change (as PATCH /challenges/{slug}).')
    .requiredOption('--set <json>', 'e.g. \'{"title":"New title","limits":{"per_day":3}}\'', jsonObject)
    .option('--json', 'one JSON object')
    .action((slug: string, o: { set: Record<string, unknown>; json?: boolean }) =>
      open(async (service) => {
        if ('slug' in o.set) throw new ExitError(ExitCode.invalidInput, 'error: the slug of a challenge never changes');
        printChallenge(await service.update(slug, o.set as ChallengePatch), o.json);
      }),
    );

  for (const [name, active] of [
    ['activate', true],
    ['deactivate', false],
  ] as const) {
    challenges
      .command(`${name} <slug>`)
      .description(active ? 'Accept submissions again (and list it publicly when public).' : 'Stop accepting submissions and hide it from non-participants.')
      .option('--json', 'one JSON object')
      .action((slug: string, o: { json?: boolean }) => open(async (service) => printChallenge(await service.update(slug, { active }), o.json)));
  }

  challenges
    .command('remove <slug>')
    .description('Delete a challenge with its submissions (refused while evaluations run, unless --force, which cancels them).')
    .option('--force', 'cancel running evaluations')
    .option('--json', 'one JSON object')
    .action((slug: string, o: { force?: boolean; json?: boolean }) =>
      open(async (service) => {
        const { cancelled } = await service.remove(slug, o.force === true, null);
        console.log(o.json ? JSON.stringify({ removed: slug, cancelled }) : `removed ${slug}${cancelled ? ` (${cancelled} evaluation(s) cancelled)` : ''}`);
      }),
    );

  challenges
    .command('leaderboard <slug>')
    .description("Show a challenge's leaderboard.")
    .option('--limit <n>', 'rows', positiveInt, 50)
    .option('--json', 'one JSON object per line')
    .action((slug: string, o: { limit: number; json?: boolean }) =>
      open(async (service) => {
        const { items } = await service.leaderboard(slug, null, { limit: Math.min(o.limit, 10_000) });
        if (o.json) for (const i of items) console.log(JSON.stringify(i));
        else {
          const rows = items.map((i) => ({ rank: String(i.rank), user: i.user.name || i.user.id, score: String(i.score), submission: i.submission_id, at: i.submitted_at }));
          console.log(renderTable(rows, [['RANK', 'rank'], ['USER', 'user'], ['SCORE', 'score'], ['SUBMISSION', 'submission'], ['SUBMITTED', 'at']]));
        }
      }),
    );

  const resources = challenges.command('resources').description("A challenge's resources.");
  resources
    .command('add <slug> <file>')
    .description('Upload a file as a resource, owned by the admin --as (hidden: readable only by evaluation workers and managers).')
    .requiredOption('--as <email>', 'the administrator who owns the upload')
    .option('--name <name>', 'resource name (default: the file name)')
    .option('--hidden', 'a hidden resource (reference answers)')
    .option('--json', 'one JSON object')
    .action((slug: string, file: string, o: { as: string; name?: string; hidden?: boolean; json?: boolean }) =>
      open(async (service, gatehouse) => {
        await service.assertExists(slug);
        if (!(await stat(file).catch(() => null))?.isFile()) throw new ExitError(ExitCode.invalidInput, `error: ${file} is not a readable file`);
        const owner = await gatehouse.users.getByEmail(o.as);
        // A short-lived key of the owner's gives the upload a real principal (quota, ownership), then is revoked.
        const { key, secret } = await gatehouse.apiKeys.createForService(owner.id, { name: 'cli:challenges-resources-add', scopes: ['files:write'], expiresInSeconds: 600 }, CLI_ACTOR);
        try {
          const principal = await gatehouse.auth.authenticateBearer(secret);
          if (!principal) throw new ExitError(ExitCode.failure, 'error: could not act as that user');
          const name = o.name ?? file.split('/').pop() ?? 'resource';
          const stored = await gatehouse.files.upload(principal, { purpose: 'attachment' }, { stream: createReadStream(file), filename: name });
          const view = await service.addResource(slug, stored, { name, hidden: o.hidden === true });
          console.log(o.json ? JSON.stringify(view) : `added ${view.name} (${view.id}, ${view.size} bytes${view.hidden ? ', hidden' : ''})`);
        } finally {
          await gatehouse.apiKeys.revoke(key.id, { userId: owner.id, asAdmin: true }, CLI_ACTOR);
        }
      }),
    );
  resources
    .command('list <slug>')
    .description("List a challenge's resources (hidden ones too).")
    .option('--json', 'one JSON object per line')
    .action((slug: string, o: { json?: boolean }) =>
      open(async (service) => {
        const items = await service.resources(slug, null);
        if (o.json) for (const r of items) console.log(JSON.stringify(r));
        else console.log(renderTable(items.map((r) => ({ id: r.id, name: r.name, size: String(r.size), hidden: r.hidden ? 'yes' : 'no', sha256: r.sha256 })), [['ID', 'id'], ['NAME', 'name'], ['SIZE', 'size'], ['HIDDEN', 'hidden'], ['SHA256', 'sha256']]));
      }),
    );

  const submissions = program.command('submissions').description('Challenge submissions: list, show, re-evaluate, watch (challenges module).');
  submissions
    .command('list <slug>')
    .description("A challenge's submissions, newest first.")
    .option('--user <id>', 'only this user (id)')
    .option('--state <state>', 'evaluating, scored or failed')
    .option('--limit <n>', 'rows', positiveInt, 50)
    .option('--json', 'one JSON object per line')
    .action((slug: string, o: { user?: string; state?: string; limit: number; json?: boolean }) =>
      open(async (service) => {
        if (o.state && !['evaluating', 'scored', 'failed'].includes(o.state)) throw new ExitError(ExitCode.invalidInput, 'error: --state must be evaluating, scored or failed');
        const page = await service.listSubmissions(slug, null, { userId: o.user, state: o.state as SubmissionView['state'] | undefined, limit: Math.min(o.limit, 1000) });
        printSubmissions(page.items, o.json);
      }),
    );
  submissions
    .command('show <id>')
    .description('One submission with its evaluations.')
    .option('--json', 'one JSON object')
    .action((id: string, o: { json?: boolean }) =>
      open(async (service) => {
        const s = await service.getSubmission(submissionId(id), null);
        if (o.json) return void console.log(JSON.stringify(s));
        console.log(`${s.id} (${s.challenge}) by ${s.user_id}: ${s.state}`);
        for (const e of s.evaluations) console.log(`  ${e.kind}@${e.queue} job ${e.job_id}: ${e.state} ${Math.floor(e.progress * 100)}%${e.error ? ` — ${e.error}` : ''}`);
        if (Object.keys(s.scores).length) console.log(`  scores ${Object.entries(s.scores).map(([k, v]) => `${k}=${v}`).join(' ')}`);
        for (const e of s.errors) console.log(`  error ${e.kind}: ${e.message}`);
      }),
    );
  submissions
    .command('reevaluate <id>')
    .description('Evaluate a submission again with the challenge\'s current evaluators.')
    .option('--json', 'one JSON object')
    .action((id: string, o: { json?: boolean }) =>
      open(async (service) => {
        const s = await service.reevaluate(submissionId(id), null);
        console.log(o.json ? JSON.stringify(s) : `${s.id}: evaluating again (${s.evaluations.map((e) => e.job_id).join(', ')})`);
      }),
    );
  submissions
    .command('watch <id>')
    .description('Follow a submission until it is scored (exit 0) or fails (exit 1): a progress bar on a terminal, one line per change otherwise (or with --json).')
    .option('--interval-ms <ms>', 'poll interval', positiveInt, 500)
    .option('--json', 'one JSON object per change')
    .action((id: string, o: { intervalMs: number; json?: boolean }) =>
      open(async (service) => {
        const sid = submissionId(id);
        let last = '';
        let bar: ReturnType<typeof createProgressBar> | undefined;
        for (;;) {
          const s = await service.getSubmission(sid, null);
          const progress = s.evaluations.length ? s.evaluations.reduce((sum, e) => sum + (e.state === 'pending' ? e.progress : 1), 0) / s.evaluations.length : 1;
          const key = JSON.stringify([s.state, s.evaluations.map((e) => [e.state, e.progress, e.progress_message])]);
          if (key !== last) {
            last = key;
            if (o.json || !process.stderr.isTTY) {
              console.log(o.json ? JSON.stringify({ state: s.state, progress, evaluations: s.evaluations.map((e) => ({ kind: e.kind, state: e.state, progress: e.progress, message: e.progress_message })) }) : `${s.state} ${Math.floor(progress * 100)}% ${s.evaluations.map((e) => `${e.kind}:${e.state}${e.progress_message ? ` (${e.progress_message})` : ''}`).join(' ')}`);
            } else {
              bar ??= createProgressBar(`submission ${sid.slice(0, 8)}`, 100);
              bar.update(Math.floor(progress * 100));
            }
          }
          if (s.state !== 'evaluating') {
            bar?.done();
            if (!o.json) console.log(s.state === 'scored' ? `scored: ${Object.entries(s.scores).map(([k, v]) => `${k}=${v}`).join(' ')}` : `failed: ${s.errors.map((e) => `${e.kind}: ${e.message}`).join('; ')}`);
            if (s.state === 'failed') throw new ExitError(ExitCode.failure, '');
            return;
          }
          await sleep(o.intervalMs);
        }
      }),
    );
}
