/**
 * The challenges module through its HTTP API on SQLite and PostgreSQL (one context per dialect):
 * challenges and their visibility, resources and who may read the hidden reference, participants,
 * submissions evaluated over the worker protocol with their outcomes recorded by the job hook in
 * the completing transaction, limits, the leaderboard (hand-computed), a hook failure rolling
 * back job and submission together, re-evaluation and deletion, and a real SDK worker running
 * the built-in evaluator end to end.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { challengesModule } from '../../src/challenges/index.js';
import type { ChallengeService } from '../../src/challenges/challenges.service.js';
import scorePredictionsHandlers from '../../src/challenges/score-predictions.handler.js';
import { pendingMigrations } from '../../src/db/migrate.js';
import { defineModule } from '../../src/modules/contract.js';
import { MODULES } from '../../src/modules/index.js';
import { Worker } from '../../src/worker/index.js';
import { makePrincipals, type Principals } from '../access/access-fixtures.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeApiKey, makeUser, type TestContext } from '../helpers/harness.js';
import { cleanEnv, REPO_ROOT } from '../helpers/server-process.js';
import { parseLabelCsv, scorePredictions } from '../../src/challenges/score-predictions.js';
import { listen } from '../files/files-helpers.js';
import { call, claim, type Headers, JOBS_ENV, workerCall } from '../jobs/job-fixtures.js';
import { SseClient, until } from '../realtime/fixtures.js';

/** A second module whose hook on submissions fails while `failNext` is set (fault injection). */
const faults = { failNext: false, calls: 0 };
const faultyModule = defineModule<typeof faults>({
  name: 'faulty-submission-hook',
  description: 'test: a job hook on submissions that throws on demand',
  create: () => faults,
  jobHooks: (state) => [
    {
      name: 'faulty',
      parentTypes: ['submission'],
      async handle() {
        state.calls++;
        if (state.failNext) {
          state.failNext = false;
          throw new Error('injected hook failure');
        }
      },
    },
  ],
});

interface SubmissionJson {
  id: string;
  challenge: string;
  user_id: string;
  state: 'evaluating' | 'scored' | 'failed';
  scores: Record<string, number>;
  errors: Array<{ kind: string; message: string }>;
  meta: Record<string, unknown>;
  files: string[];
  evaluations: Array<{ kind: string; queue: string; job_id: string; state: string; scores: Record<string, number>; error: string | null; progress: number }>;
  created_at: string;
}

interface FormResult {
  status: number;
  headers: globalThis.Headers;
  json: Record<string, unknown>;
}

type Part = [name: string, value: string] | [name: string, content: string, filename: string];

const USER_SCOPES = ['account:self', 'files:read', 'files:write', 'challenges:participate', 'events:read'];

const REFERENCE_CSV = 'id,label\n1,cat\n2,dog\n3,dog\n4,bird\n';

describe.each(dialects)('challenges module on %s', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let admin: Principals;
  let ann: Principals;
  let bob: Principals;
  let cy: Principals;
  let worker: Headers;
  let otherWorker: Headers;
  let workerSecret: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV }, modules: [...MODULES, faultyModule] });
    base = await listen(ctx);
    admin = await makePrincipals(ctx, { role: 'admin' });
    ann = await makePrincipals(ctx, { role: 'user', name: 'Ann', scopes: USER_SCOPES });
    bob = await makePrincipals(ctx, { role: 'user', name: 'Bob', scopes: USER_SCOPES });
    cy = await makePrincipals(ctx, { role: 'user', name: 'Cy', scopes: USER_SCOPES });
    const workerUser = await makeUser(ctx, { role: 'worker', name: 'evaluator' });
    const cookie = { cookie: await loginCookie(ctx, workerUser) };
    const key = await makeApiKey(ctx, cookie, { scopes: ['jobs:claim'], name: 'evaluator' });
    worker = key.headers;
    workerSecret = (key.headers.authorization ?? '').replace(/^Bearer /, '');
    otherWorker = (await makeApiKey(ctx, cookie, { scopes: ['jobs:claim'], name: 'other-evaluator' })).headers;
  }, 120_000);
  afterAll(async () => ctx?.close());

  /** A real multipart POST (fetch's own encoder). */
  async function postForm(url: string, headers: Headers, parts: Part[]): Promise<FormResult> {
    const form = new FormData();
    for (const part of parts) {
      if (part.length === 2) form.append(part[0], part[1]);
      else form.append(part[0], new Blob([part[1]], { type: 'text/csv' }), part[2]);
    }
    const res = await fetch(`${base}${url}`, { method: 'POST', body: form, headers, signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async function fetchFile(url: string, headers: Headers): Promise<{ status: number; body: string }> {
    const res = await fetch(`${base}${url}`, { headers, signal: AbortSignal.timeout(20_000) });
    return { status: res.status, body: await res.text() };
  }

  let serial = 0;
  /** Creates a challenge whose evaluators use a queue of its own. @returns its slug and queue. */
  async function newChallenge(overrides: Record<string, unknown> = {}, kinds = ['score-predictions']): Promise<{ slug: string; queue: string }> {
    serial += 1;
    const slug = `c${serial}-${dialect}`;
    const queue = `q-${slug}`;
    const res = await call(ctx, 'POST', '/api/v1/challenges', admin.apiKey, {
      slug,
      title: `Challenge ${serial}`,
      evaluators: kinds.map((kind) => ({ kind, queue })),
      leaderboard: { score: 'accuracy', direction: 'desc' },
      ...overrides,
    });
    expect(res.statusCode, res.body).toBe(201);
    return { slug, queue };
  }

  async function join(slug: string, who: Principals): Promise<void> {
    const res = await call(ctx, 'POST', `/api/v1/challenges/${slug}/participants`, who.apiKey);
    expect([200, 201], res.body).toContain(res.statusCode);
  }

  async function submit(slug: string, who: Principals, csv = 'id,label\n1,cat\n', meta?: Record<string, unknown>): Promise<SubmissionJson> {
    const parts: Part[] = [['file', csv, 'predictions.csv']];
    if (meta) parts.unshift(['meta', JSON.stringify(meta)]);
    const res = await postForm(`/api/v1/challenges/${slug}/submissions`, who.apiKey, parts);
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    return res.json as unknown as SubmissionJson;
  }

  async function getSubmission(id: string, as: Headers = admin.apiKey): Promise<SubmissionJson> {
    const res = await call(ctx, 'GET', `/api/v1/submissions/${id}`, as);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<SubmissionJson>();
  }

  /** Claims the next job of `queue` as `as`; asserts it is `jobId` when given. */
  async function claimJob(queue: string, jobId?: string, as: Headers = worker): Promise<{ id: string; attempt: number; payload: Record<string, unknown>; input_files: string[] }> {
    const res = await claim(ctx, as, { queues: [queue], wait_s: 0 });
    expect(res.statusCode, res.body).toBe(200);
    const { job, attempt } = res.json<{ job: { id: string; payload: Record<string, unknown>; input_files: string[] }; attempt: number }>();
    if (jobId) expect(job.id).toBe(jobId);
    return { ...job, attempt };
  }

  async function completeWith(queue: string, jobId: string, scores: Record<string, number>): Promise<void> {
    const { attempt } = await claimJob(queue, jobId);
    const res = await workerCall(ctx, worker, jobId, 'complete', { attempt, result: { scores, details: { n: 4 } } });
    expect(res.statusCode, res.body).toBe(200);
  }

  async function leaderboard(slug: string, query = ''): Promise<{ items: Array<{ rank: number; user: { id: string; name: string }; submission_id: string; score: number; scores: Record<string, number> }>; next_cursor: string | null }> {
    const res = await call(ctx, 'GET', `/api/v1/challenges/${slug}/leaderboard${query}`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  }

  it('applies its migrations in a table of its own', async () => {
    expect(await pendingMigrations(ctx.gatehouse.database.db, dialect, [challengesModule])).toEqual([]);
  });

  it('creates, lists, shows and changes challenges; visibility decides who sees them', async () => {
    const open = await newChallenge({ description: 'public', url: 'https://example.org/c' });
    const hidden = await newChallenge({ visibility: 'participants' });
    const inactive = await newChallenge({ active: false });

    const again = await call(ctx, 'POST', '/api/v1/challenges', admin.apiKey, { slug: open.slug, title: 'x', evaluators: [{ kind: 'k', queue: 'q' }], leaderboard: { score: 's', direction: 'asc' } });
    expect(again.statusCode).toBe(409);
    const bad = await call(ctx, 'POST', '/api/v1/challenges', admin.apiKey, { slug: 'Bad Slug', title: 'x', evaluators: [], leaderboard: { score: 's', direction: 'up' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'validation_failed' });
    const window = await call(ctx, 'POST', '/api/v1/challenges', admin.apiKey, {
      slug: `w-${dialect}`,
      title: 'x',
      evaluators: [{ kind: 'k', queue: 'q' }],
      leaderboard: { score: 's', direction: 'asc' },
      opens_at: '2030-01-02T00:00:00Z',
      closes_at: '2030-01-01T00:00:00Z',
    });
    expect(window.statusCode).toBe(400);
    const forbidden = await call(ctx, 'POST', '/api/v1/challenges', ann.apiKey, { slug: 'nope', title: 'x', evaluators: [{ kind: 'k', queue: 'q' }], leaderboard: { score: 's', direction: 'asc' } });
    expect(forbidden.statusCode).toBe(403);

    const slugsFor = async (headers: Headers | undefined) => {
      const res = await call(ctx, 'GET', '/api/v1/challenges?limit=200', headers);
      expect(res.statusCode, res.body).toBe(200);
      return res.json<{ items: Array<{ slug: string }> }>().items.map((c) => c.slug);
    };
    const anonymous = await slugsFor(undefined);
    expect(anonymous).toContain(open.slug);
    expect(anonymous).not.toContain(hidden.slug);
    expect(anonymous).not.toContain(inactive.slug);
    expect(await slugsFor(admin.apiKey)).toEqual(expect.arrayContaining([open.slug, hidden.slug, inactive.slug]));
    expect((await call(ctx, 'GET', `/api/v1/challenges/${hidden.slug}`, bob.apiKey)).statusCode).toBe(404);
    // Joining by slug makes a participants-only challenge visible to its participant.
    await join(hidden.slug, bob);
    expect(await slugsFor(bob.apiKey)).toContain(hidden.slug);
    expect((await call(ctx, 'GET', `/api/v1/challenges/${hidden.slug}`, bob.apiKey)).statusCode).toBe(200);

    const shown = await call(ctx, 'GET', `/api/v1/challenges/${open.slug}`);
    expect(shown.json()).toMatchObject({ slug: open.slug, description: 'public', url: 'https://example.org/c', active: true, visibility: 'public', limits: { per_day: null, concurrent: null } });
    const patched = await call(ctx, 'PATCH', `/api/v1/challenges/${open.slug}`, admin.apiKey, { title: 'Renamed', limits: { per_day: 5 } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ title: 'Renamed', limits: { per_day: 5, concurrent: null } });
    expect((await call(ctx, 'PATCH', `/api/v1/challenges/${open.slug}`, admin.apiKey, { slug: 'other' })).statusCode).toBe(400);
    expect((await call(ctx, 'PATCH', `/api/v1/challenges/${open.slug}`, ann.apiKey, { title: 'x' })).statusCode).toBe(403);

    // The module's routes are in the OpenAPI document, its error codes documented.
    const openapi = (await ctx.request({ url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/challenges',
        '/api/v1/challenges/{slug}',
        '/api/v1/challenges/{slug}/resources',
        '/api/v1/challenges/{slug}/participants',
        '/api/v1/challenges/{slug}/submissions',
        '/api/v1/challenges/{slug}/leaderboard',
        '/api/v1/submissions/{id}',
        '/api/v1/submissions/{id}/reevaluate',
      ]),
    );
    for (const code of ['submission_limit', 'challenge_closed', 'not_participant']) expect((await ctx.request({ url: `/problems/${code}` })).statusCode).toBe(200);
  });

  it('resources: the index hides hidden ones from non-managers; only the worker holding an evaluation job reads the hidden reference', async () => {
    const { slug, queue } = await newChallenge();
    const other = await newChallenge();
    const data = await postForm(`/api/v1/challenges/${slug}/resources`, admin.apiKey, [['name', 'train.csv'], ['file', 'id,label\n9,cat\n', 'train.csv']]);
    expect(data.status, JSON.stringify(data.json)).toBe(201);
    const ref = await postForm(`/api/v1/challenges/${slug}/resources`, admin.apiKey, [['name', 'reference.csv'], ['hidden', 'true'], ['file', REFERENCE_CSV, 'ref.csv']]);
    expect(ref.status, JSON.stringify(ref.json)).toBe(201);
    expect(ref.json).toMatchObject({ name: 'reference.csv', hidden: true, size: REFERENCE_CSV.length, download_url: `/api/v1/files/${String(ref.json.id)}` });
    const dup = await postForm(`/api/v1/challenges/${slug}/resources`, admin.apiKey, [['name', 'train.csv'], ['file', 'x', 'x.csv']]);
    expect(dup.status).toBe(409);
    expect((await postForm(`/api/v1/challenges/${slug}/resources`, ann.apiKey, [['file', 'x', 'x.csv']])).status).toBe(403);

    const indexFor = async (headers?: Headers) => (await call(ctx, 'GET', `/api/v1/challenges/${slug}/resources`, headers)).json<{ items: Array<{ name: string; hidden: boolean; sha256: string }> }>().items;
    expect((await indexFor(ann.apiKey)).map((r) => r.name)).toEqual(['train.csv']);
    expect((await indexFor()).map((r) => r.name)).toEqual(['train.csv']);
    expect((await indexFor(admin.apiKey)).map((r) => [r.name, r.hidden])).toEqual([
      ['reference.csv', true],
      ['train.csv', false],
    ]);

    const refUrl = `/api/v1/files/${String(ref.json.id)}`;
    expect(await fetchFile(`/api/v1/files/${String(data.json.id)}`, ann.apiKey)).toEqual({ status: 200, body: 'id,label\n9,cat\n' });
    expect((await fetchFile(refUrl, ann.apiKey)).status).toBe(404);
    expect((await fetchFile(refUrl, worker)).status).toBe(404);
    expect((await fetchFile(refUrl, admin.apiKey)).status).toBe(200);

    // A worker holding an evaluation job of another challenge still cannot read it.
    await join(other.slug, ann);
    const foreign = await submit(other.slug, ann);
    await claimJob(other.queue, foreign.evaluations[0]!.job_id, otherWorker);
    expect((await fetchFile(refUrl, otherWorker)).status).toBe(404);

    await join(slug, ann);
    const submission = await submit(slug, ann, 'id,label\n1,cat\n');
    const job = await claimJob(queue, submission.evaluations[0]!.job_id);
    expect(job.payload).toEqual({ submission_id: submission.id, challenge: slug, files: submission.files, references: [ref.json.id] });
    expect(await fetchFile(refUrl, worker)).toEqual({ status: 200, body: REFERENCE_CSV });
    expect((await fetchFile(`/api/v1/files/${submission.files[0]}`, worker)).status).toBe(200);
    const done = await workerCall(ctx, worker, job.id, 'complete', { attempt: job.attempt, result: { scores: { accuracy: 0.25, macro_f1: 0.1 } } });
    expect(done.statusCode, done.body).toBe(200);
    // Once the job is finished the worker holds nothing of the challenge: the reference is closed again.
    expect((await fetchFile(refUrl, worker)).status).toBe(404);
  });

  it('participants: only participants submit; closed and inactive challenges refuse with 409', async () => {
    const { slug } = await newChallenge();
    const before = await postForm(`/api/v1/challenges/${slug}/submissions`, cy.apiKey, [['file', 'id,label\n', 'p.csv']]);
    expect(before.status).toBe(403);
    expect(before.json).toMatchObject({ code: 'not_participant' });
    const notYet = await call(ctx, 'GET', `/api/v1/challenges/${slug}/participants/me`, cy.apiKey);
    expect(notYet.statusCode).toBe(404);
    expect(notYet.json()).toMatchObject({ code: 'not_found' });
    const first = await call(ctx, 'POST', `/api/v1/challenges/${slug}/participants`, cy.apiKey);
    expect(first.statusCode).toBe(201);
    const me = await call(ctx, 'GET', `/api/v1/challenges/${slug}/participants/me`, cy.apiKey);
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toEqual({ challenge: slug, user_id: cy.user.id, joined_at: first.json<{ joined_at: string }>().joined_at });
    expect((await call(ctx, 'POST', `/api/v1/challenges/${slug}/participants`, cy.apiKey)).statusCode).toBe(200);
    const list = await call(ctx, 'GET', `/api/v1/challenges/${slug}/participants`, admin.apiKey);
    expect(list.json<{ items: Array<{ user_id: string; name: string }> }>().items).toEqual([expect.objectContaining({ user_id: cy.user.id, name: 'Cy' })]);
    expect((await call(ctx, 'GET', `/api/v1/challenges/${slug}/participants`, cy.apiKey)).statusCode).toBe(403);

    const noFile = await postForm(`/api/v1/challenges/${slug}/submissions`, cy.apiKey, [['meta', '{"a":1}']]);
    expect(noFile.status).toBe(400);
    const badMeta = await postForm(`/api/v1/challenges/${slug}/submissions`, cy.apiKey, [['meta', '[1]'], ['file', 'x', 'x.csv']]);
    expect(badMeta.status).toBe(400);

    await call(ctx, 'PATCH', `/api/v1/challenges/${slug}`, admin.apiKey, { active: false });
    const inactive = await postForm(`/api/v1/challenges/${slug}/submissions`, cy.apiKey, [['file', 'x', 'x.csv']]);
    expect(inactive.status).toBe(409);
    expect(inactive.json).toMatchObject({ code: 'challenge_closed' });
    const past = new Date(ctx.clock.now().getTime() - 3_600_000).toISOString();
    await call(ctx, 'PATCH', `/api/v1/challenges/${slug}`, admin.apiKey, { active: true, opens_at: null, closes_at: past });
    expect((await postForm(`/api/v1/challenges/${slug}/submissions`, cy.apiKey, [['file', 'x', 'x.csv']])).json).toMatchObject({ code: 'challenge_closed' });
    await call(ctx, 'PATCH', `/api/v1/challenges/${slug}`, admin.apiKey, { closes_at: null });

    const left = await call(ctx, 'DELETE', `/api/v1/challenges/${slug}/participants/me`, cy.apiKey);
    expect(left.statusCode).toBe(204);
    expect((await call(ctx, 'DELETE', `/api/v1/challenges/${slug}/participants/me`, cy.apiKey)).statusCode).toBe(404);
    expect((await call(ctx, 'GET', `/api/v1/challenges/${slug}/participants/me`, cy.apiKey)).statusCode).toBe(404);
    expect((await postForm(`/api/v1/challenges/${slug}/submissions`, cy.apiKey, [['file', 'x', 'x.csv']])).status).toBe(403);
  });

  it('one evaluation job per evaluator; the hook merges their scores; the leaderboard ranks best per participant with shared ranks', async () => {
    const { slug, queue } = await newChallenge({}, ['acc-eval', 'f1-eval']);
    for (const who of [ann, bob, cy]) await join(slug, who);
    const a1 = await submit(slug, ann, 'id,label\n1,cat\n', { note: 'first' });
    expect(a1).toMatchObject({ challenge: slug, user_id: ann.user.id, state: 'evaluating', scores: {}, meta: { note: 'first' } });
    expect(a1.evaluations.map((e) => [e.kind, e.state])).toEqual([
      ['acc-eval', 'pending'],
      ['f1-eval', 'pending'],
    ]);
    const [accJob, f1Job] = a1.evaluations.map((e) => e.job_id) as [string, string];
    const jobs = await call(ctx, 'GET', `/api/v1/jobs?parent_type=submission&parent_id=${a1.id}`, admin.apiKey);
    expect(jobs.json<{ items: Array<{ id: string; kind: string; parent_type: string; owner_id: string | null }> }>().items.map((j) => j.id).sort()).toEqual([accJob, f1Job].sort());

    await completeWith(queue, accJob, { accuracy: 0.5 });
    expect((await getSubmission(a1.id, ann.apiKey)).state).toBe('evaluating');
    await completeWith(queue, f1Job, { macro_f1: 0.4 });
    const scored = await getSubmission(a1.id, ann.apiKey);
    expect(scored).toMatchObject({ state: 'scored', scores: { accuracy: 0.5, macro_f1: 0.4 } });
    expect(scored.evaluations.map((e) => e.state)).toEqual(['succeeded', 'succeeded']);

    // Hand-made board: bob 0.75; cy 0.75 later (tie: shares rank 1, after bob); ann improves to 0.9 then drops to 0.1.
    const score = async (who: Principals, accuracy: number) => {
      const s = await submit(slug, who);
      await completeWith(queue, s.evaluations[0]!.job_id, { accuracy });
      await completeWith(queue, s.evaluations[1]!.job_id, { macro_f1: accuracy / 2 });
      return s.id;
    };
    ctx.clock.advance(1);
    const b1 = await score(bob, 0.75);
    ctx.clock.advance(1);
    const c1 = await score(cy, 0.75);
    let board = await leaderboard(slug);
    expect(board.items.map((i) => [i.rank, i.user.name, i.submission_id, i.score])).toEqual([
      [1, 'Bob', b1, 0.75],
      [1, 'Cy', c1, 0.75],
      [3, 'Ann', a1.id, 0.5],
    ]);
    ctx.clock.advance(1);
    const a2 = await score(ann, 0.9);
    ctx.clock.advance(1);
    await score(ann, 0.1);
    board = await leaderboard(slug);
    expect(board.items.map((i) => [i.rank, i.user.name, i.submission_id, i.score])).toEqual([
      [1, 'Ann', a2, 0.9],
      [2, 'Bob', b1, 0.75],
      [2, 'Cy', c1, 0.75],
    ]);
    expect(board.items[0]!.scores).toEqual({ accuracy: 0.9, macro_f1: 0.45 });
    // Pages follow the submission cursor.
    const first = await leaderboard(slug, '?limit=2');
    expect(first.items.map((i) => i.rank)).toEqual([1, 2]);
    const second = await leaderboard(slug, `?limit=2&cursor=${first.next_cursor}`);
    expect(second.items.map((i) => i.user.name)).toEqual(['Cy']);
    expect(second.next_cursor).toBeNull();

    // Ann's email, and the admins' new-leader notice for Ann taking first place.
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.to === ann.user.email && m.text.includes(a2));
    expect(mail.subject).toMatch(/^Your submission to Challenge \d+ was scored/);
    expect(mail.text).toContain('accuracy = 0.9');
    expect(mail.text).toContain('number 1');
    const leader = await ctx.smtp.waitFor((m) => m.to === 'ops@example.com' && m.text.includes(`Ann leads Challenge`) && m.text.includes(`(${slug})`) && m.text.includes('0.9'));
    expect(leader.text).toContain('accuracy = 0.9 (was 0.75)');

    // Listing: own submissions for a participant, filters for managers.
    const own = await call(ctx, 'GET', `/api/v1/challenges/${slug}/submissions`, bob.apiKey);
    expect(own.json<{ items: SubmissionJson[] }>().items.map((s) => s.id)).toEqual([b1]);
    expect((await call(ctx, 'GET', `/api/v1/challenges/${slug}/submissions?user_id=${ann.user.id}`, bob.apiKey)).statusCode).toBe(403);
    const anns = await call(ctx, 'GET', `/api/v1/challenges/${slug}/submissions?user_id=${ann.user.id}&state=scored&limit=2`, admin.apiKey);
    const page = anns.json<{ items: SubmissionJson[]; next_cursor: string | null }>();
    expect(page.items).toHaveLength(2);
    expect(page.next_cursor).not.toBeNull();
    expect((await call(ctx, 'GET', `/api/v1/submissions/${b1}`, ann.apiKey)).statusCode).toBe(404);
  });

  it('a failing evaluator fails the submission with its message; a malformed result fails it too; the participant is emailed', async () => {
    const { slug, queue } = await newChallenge({}, ['acc-eval', 'f1-eval']);
    await join(slug, bob);
    const s = await submit(slug, bob);
    const first = await claimJob(queue, s.evaluations[0]!.job_id);
    const failed = await workerCall(ctx, worker, first.id, 'fail', { attempt: first.attempt, error: { message: 'Malformed CSV: submission, line 3: expected 2 fields' }, retryable: false });
    expect(failed.statusCode, failed.body).toBe(200);
    const after = await getSubmission(s.id, bob.apiKey);
    expect(after).toMatchObject({ state: 'failed', errors: [{ kind: 'acc-eval', message: 'Malformed CSV: submission, line 3: expected 2 fields' }] });
    // The other evaluator's outcome is still recorded, without changing the settled submission.
    await completeWith(queue, s.evaluations[1]!.job_id, { macro_f1: 1 });
    const settled = await getSubmission(s.id, bob.apiKey);
    expect(settled.state).toBe('failed');
    expect(settled.evaluations.map((e) => e.state)).toEqual(['failed', 'succeeded']);
    await ctx.flushMail();
    const mail = await ctx.smtp.waitFor((m) => m.to === bob.user.email && m.text.includes(s.id));
    expect(mail.subject).toMatch(/could not be scored/);
    expect(mail.text).toContain('line 3');
    expect((await leaderboard(slug)).items).toEqual([]);

    const malformed = await submit(slug, bob);
    await completeWith(queue, malformed.evaluations[0]!.job_id, { accuracy: Number.NaN } as unknown as Record<string, number>);
    const job = await claimJob(queue, malformed.evaluations[1]!.job_id);
    const res = await workerCall(ctx, worker, job.id, 'complete', { attempt: job.attempt, result: { total: 3 } });
    expect(res.statusCode, res.body).toBe(200);
    const bad = await getSubmission(malformed.id, bob.apiKey);
    expect(bad.state).toBe('failed');
    // null (JSON has no NaN) is not a score; the first failing evaluator settles the submission.
    expect(bad.errors).toEqual([{ kind: 'acc-eval', message: 'The evaluator\'s score "accuracy" is not a finite number.' }]);
    expect(bad.evaluations[1]!.error).toMatch(/no \{scores/);
  });

  it('limits: past per_day in 24 h answers 429 with Retry-After until the window frees a slot; concurrent counts evaluating ones', async () => {
    const daily = await newChallenge({ limits: { per_day: 2 } });
    await join(daily.slug, cy);
    const first = await submit(daily.slug, cy);
    ctx.clock.advance(600);
    await submit(daily.slug, cy);
    const refused = await postForm(`/api/v1/challenges/${daily.slug}/submissions`, cy.apiKey, [['file', 'x', 'x.csv']]);
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({ code: 'submission_limit', limit: 'per_day', per_day: 2 });
    // The first submission turns 24 h old in 86400 - 600 s.
    expect(refused.headers.get('retry-after')).toBe(String(86_400 - 600));
    ctx.clock.advance(86_400 - 600);
    const third = await submit(daily.slug, cy);
    expect(third.id).not.toBe(first.id);

    const concurrent = await newChallenge({ limits: { concurrent: 1 } });
    await join(concurrent.slug, cy);
    const running = await submit(concurrent.slug, cy);
    const busy = await postForm(`/api/v1/challenges/${concurrent.slug}/submissions`, cy.apiKey, [['file', 'x', 'x.csv']]);
    expect(busy.status).toBe(429);
    expect(busy.json).toMatchObject({ code: 'submission_limit', limit: 'concurrent' });
    expect(busy.headers.get('retry-after')).toBeTruthy();
    await completeWith(concurrent.queue, running.evaluations[0]!.job_id, { accuracy: 1 });
    await submit(concurrent.slug, cy);
  });

  it('a hook failure rolls back the job outcome and the submission together; the retried complete records it once', async () => {
    const { slug, queue } = await newChallenge();
    await join(slug, ann);
    const s = await submit(slug, ann);
    const job = await claimJob(queue, s.evaluations[0]!.job_id);
    faults.failNext = true;
    const callsBefore = faults.calls;
    const refused = await workerCall(ctx, worker, job.id, 'complete', { attempt: job.attempt, result: { scores: { accuracy: 0.6 } } });
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.json()).toMatchObject({ code: 'job_hook_failed' });
    // The challenges hook ran first in the same transaction: its writes were rolled back with the outcome.
    const during = await getSubmission(s.id);
    expect(during).toMatchObject({ state: 'evaluating', scores: {} });
    expect(during.evaluations[0]).toMatchObject({ state: 'pending', scores: {} });
    // Its live events were rolled back too: only the creation is stored on the topic.
    expect((await ctx.gatehouse.topics.latest(`submission:${s.id}`)).map((e) => e.type)).toEqual(['submission.created']);
    const jobNow = await call(ctx, 'GET', `/api/v1/jobs/${job.id}`, admin.apiKey);
    expect(jobNow.json<{ job: { state: string } }>().job.state).toBe('running');
    expect((await leaderboard(slug)).items).toEqual([]);

    const retried = await workerCall(ctx, worker, job.id, 'complete', { attempt: job.attempt, result: { scores: { accuracy: 0.6 } } });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(await getSubmission(s.id)).toMatchObject({ state: 'scored', scores: { accuracy: 0.6 } });
    expect((await leaderboard(slug)).items.map((i) => i.score)).toEqual([0.6]);
    const again = await workerCall(ctx, worker, job.id, 'complete', { attempt: job.attempt, result: { scores: { accuracy: 0.6 } } });
    expect(again.statusCode).toBe(409);
    expect(faults.calls).toBe(callsBefore + 2);
  });

  it('re-evaluation replaces the jobs (late outcomes of old ones change nothing); deletion rules; a challenge with running evaluations needs force', async () => {
    const { slug, queue } = await newChallenge();
    await join(slug, bob);
    const s = await submit(slug, bob);
    const oldJob = await claimJob(queue, s.evaluations[0]!.job_id);
    expect((await call(ctx, 'POST', `/api/v1/submissions/${s.id}/reevaluate`, bob.apiKey)).statusCode).toBe(403);
    const re = await call(ctx, 'POST', `/api/v1/submissions/${s.id}/reevaluate`, admin.apiKey);
    expect(re.statusCode, re.body).toBe(202);
    const newJobId = re.json<SubmissionJson>().evaluations[0]!.job_id;
    expect(newJobId).not.toBe(oldJob.id);
    // The old job was cancelled: its worker's complete is refused, and nothing changes.
    const late = await workerCall(ctx, worker, oldJob.id, 'complete', { attempt: oldJob.attempt, result: { scores: { accuracy: 0.01 } } });
    expect(late.statusCode).toBe(409);
    await completeWith(queue, newJobId, { accuracy: 0.7 });
    expect(await getSubmission(s.id)).toMatchObject({ state: 'scored', scores: { accuracy: 0.7 } });

    expect((await call(ctx, 'DELETE', `/api/v1/submissions/${s.id}`, bob.apiKey)).statusCode).toBe(409);
    const pending = await submit(slug, bob);
    expect((await call(ctx, 'DELETE', `/api/v1/submissions/${pending.id}`, ann.apiKey)).statusCode).toBe(404);
    expect((await call(ctx, 'DELETE', `/api/v1/submissions/${pending.id}`, bob.apiKey)).statusCode).toBe(204);
    const cancelled = await call(ctx, 'GET', `/api/v1/jobs/${pending.evaluations[0]!.job_id}`, admin.apiKey);
    expect(cancelled.json<{ job: { state: string } }>().job.state).toBe('cancelled');
    expect((await call(ctx, 'DELETE', `/api/v1/submissions/${s.id}`, admin.apiKey)).statusCode).toBe(204);
    expect((await leaderboard(slug)).items).toEqual([]);

    const running = await submit(slug, bob);
    const conflict = await call(ctx, 'DELETE', `/api/v1/challenges/${slug}`, admin.apiKey);
    expect(conflict.statusCode).toBe(409);
    const forced = await call(ctx, 'DELETE', `/api/v1/challenges/${slug}?force=true`, admin.apiKey);
    expect(forced.statusCode, forced.body).toBe(204);
    const job = await call(ctx, 'GET', `/api/v1/jobs/${running.evaluations[0]!.job_id}`, admin.apiKey);
    expect(job.json<{ job: { state: string } }>().job.state).toBe('cancelled');
    expect((await call(ctx, 'GET', `/api/v1/challenges/${slug}`, admin.apiKey)).statusCode).toBe(404);
  });

  it('live: submission:{id} streams each evaluation\'s progress and outcome and the state; challenge:{slug} the leaderboard; the authoriser decides who watches', async () => {
    const challenges = ctx.gatehouse.modules.find((m) => m.module.name === 'challenges')!.services as ChallengeService;
    await challenges.startProgressRelay();
    const clients: SseClient[] = [];
    const sse = async (topics: string, headers: Headers) => {
      const client = await SseClient.open(`${base}/api/v1/events?topics=${topics}`, headers);
      clients.push(client);
      return client;
    };
    try {
      const { slug, queue } = await newChallenge();
      await join(slug, ann);
      const s = await submit(slug, ann);
      const mine = await sse(`submission:${s.id},challenge:${slug}`, ann.apiKey);
      expect(mine.status, mine.body).toBe(200);
      expect((await sse(`submission:${s.id}`, bob.apiKey)).status).toBe(404);
      expect((await sse(`submission:${s.id}`, admin.apiKey)).status).toBe(200);
      expect((await sse(`challenge:${slug}`, bob.apiKey)).status).toBe(200);
      expect((await sse('challenge:no-such-challenge', bob.apiKey)).status).toBe(404);
      // Replay from the start: the submission's creation is on its topic too.
      const replay = await sse(`submission:${s.id}`, { ...ann.apiKey, 'last-event-id': '0' });
      await until(() => replay.messages.some((m) => m.event === 'submission.created'), 10_000, 'submission.created replayed');

      const job = await claimJob(queue, s.evaluations[0]!.job_id);
      // The worker holding the evaluation may follow the submission too.
      expect((await sse(`submission:${s.id}`, worker)).status).toBe(200);
      const hb = await workerCall(ctx, worker, job.id, 'heartbeat', { attempt: job.attempt, progress: 0.5, message: 'half way' });
      expect(hb.statusCode, hb.body).toBe(200);
      await until(() => mine.messages.some((m) => m.event === 'evaluation.progress'), 10_000, 'evaluation.progress');
      const progress = JSON.parse(mine.messages.find((m) => m.event === 'evaluation.progress')!.data!) as { topic: string; data: { evaluation: { progress: number; progress_message: string; job_id: string } } };
      expect(progress.topic).toBe(`submission:${s.id}`);
      expect(progress.data.evaluation).toMatchObject({ job_id: job.id, progress: 0.5, progress_message: 'half way' });
      expect((await getSubmission(s.id)).evaluations[0]!.progress).toBe(0.5);

      const done = await workerCall(ctx, worker, job.id, 'complete', { attempt: job.attempt, result: { scores: { accuracy: 0.8 } } });
      expect(done.statusCode, done.body).toBe(200);
      await until(() => mine.messages.some((m) => m.event === 'leaderboard.changed'), 10_000, 'leaderboard.changed');
      const types = mine.messages.filter((m) => m.event && m.event !== 'error').map((m) => m.event);
      expect(types).toEqual(['evaluation.progress', 'evaluation.succeeded', 'submission.scored', 'leaderboard.changed']);
      const ids = mine.messages.filter((m) => m.id !== undefined).map((m) => Number(m.id));
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      const scored = JSON.parse(mine.messages.find((m) => m.event === 'submission.scored')!.data!) as { data: { submission: { state: string; scores: Record<string, number> } } };
      expect(scored.data.submission).toMatchObject({ state: 'scored', scores: { accuracy: 0.8 } });
      const changed = JSON.parse(mine.messages.find((m) => m.event === 'leaderboard.changed')!.data!) as { topic: string; data: Record<string, unknown> };
      expect(changed).toMatchObject({ topic: `challenge:${slug}`, data: { submission_id: s.id, rank: 1, score: 0.8, reason: 'scored' } });
      // The participant's email links to the web app's challenge page at this submission, not to the API.
      const mails = await ctx.gatehouse.database.db
        .selectFrom('outbox')
        .select(sql<string>`cast(body as text)`.as('body'))
        .where('template', '=', 'submission_scored')
        .where(sql<string>`cast(body as text)`, 'like', `%${s.id}%`)
        .execute();
      expect(mails).toHaveLength(1);
      expect(mails[0]?.body).toContain(`${ctx.gatehouse.config.server.appUrl}/challenges/${slug}#submission-${s.id}`);
      expect(mails[0]?.body).not.toContain('/api/v1/submissions/');

      // Deleting the submission forgets its stored events.
      expect((await call(ctx, 'DELETE', `/api/v1/submissions/${s.id}`, admin.apiKey)).statusCode).toBe(204);
      expect(await ctx.gatehouse.topics.latest(`submission:${s.id}`)).toEqual([]);
    } finally {
      for (const client of clients) await client.close();
      await challenges.stopProgressRelay();
    }
  });

  it('the Python evaluator (examples/python-evaluator, requests only) scores over the HTTP protocol like the built-in one', async () => {
    const { slug, queue } = await newChallenge();
    const ref = await postForm(`/api/v1/challenges/${slug}/resources`, admin.apiKey, [['name', 'reference.csv'], ['hidden', 'true'], ['file', REFERENCE_CSV, 'ref.csv']]);
    expect(ref.status).toBe(201);
    await join(slug, cy);
    const predictions = 'id,label\n1,cat\n2,cat\n3,dog\n9,bird\n';
    const good = await submit(slug, cy, predictions);
    const bad = await submit(slug, cy, 'id,label\n1,cat,extra\n');
    const run = await promisify(execFile)('/usr/bin/python3', [path.join(REPO_ROOT, 'examples/python-evaluator/evaluator.py'), '--once'], {
      env: cleanEnv({ GATEHOUSE_SERVER: base, GATEHOUSE_API_KEY: workerSecret, EVALUATOR_QUEUE: queue }),
      timeout: 60_000,
    });
    expect(run.stdout).toContain('accuracy');
    const scored = await getSubmission(good.id);
    expect(scored.state).toBe('scored');
    // The same numbers as the TypeScript evaluator (itself checked by hand and against numpy): 2/4 right.
    const reference = scorePredictions(parseLabelCsv(predictions, 'submission'), parseLabelCsv(REFERENCE_CSV, 'reference')).scores;
    expect(scored.scores.accuracy).toBe(0.5);
    expect(scored.scores.macro_f1).toBeCloseTo(reference.macro_f1, 12);
    const failed = await getSubmission(bad.id);
    expect(failed.state).toBe('failed');
    expect(failed.errors[0]!.message).toBe('Malformed CSV: submission, line 2: expected 2 fields (id,label), found 3');
    // A succeeded evaluation reads as complete.
    expect(scored.evaluations[0]!.progress).toBe(1);
  }, 90_000);

  it('the CLI manages challenges, resources, leaderboards and submissions against the same database (--json)', async () => {
    const cli = async (...args: string[]): Promise<{ code: number; lines: string[] }> => {
      const saved = { ...process.env };
      Object.assign(process.env, {
        DATABASE_URL: ctx.config.database.dialect === 'sqlite' ? `sqlite:${ctx.config.database.url}` : ctx.config.database.url,
        DATA_DIR: ctx.config.dataDir,
        LOG_LEVEL: 'silent',
      });
      const lines: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
      const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        return { code: await main(['node', 'gatehouse', ...args]), lines };
      } finally {
        log.mockRestore();
        error.mockRestore();
        stderr.mockRestore();
        process.env = saved;
      }
    };
    const slug = `cli-${dialect}`;
    const queue = `q-cli-${dialect}`;
    const created = await cli('challenges', 'create', slug, '--title', 'By CLI', '--evaluator', `score-predictions@${queue}`, '--rank', 'desc:accuracy', '--per-day', '3', '--json');
    expect(created.code, created.lines.join('\n')).toBe(0);
    expect(JSON.parse(created.lines[0]!)).toMatchObject({ slug, title: 'By CLI', evaluators: [{ kind: 'score-predictions', queue }], leaderboard: { score: 'accuracy', direction: 'desc' }, limits: { per_day: 3 } });
    expect((await cli('challenges', 'create', slug, '--title', 'x', '--evaluator', 'k@q', '--rank', 'desc:a')).code).not.toBe(0);
    expect((await cli('challenges', 'create', 'other', '--title', 'x', '--evaluator', 'k@q', '--rank', 'sideways:a')).code).toBe(2);
    const edited = await cli('challenges', 'edit', slug, '--set', '{"title":"Renamed by CLI"}', '--json');
    expect(JSON.parse(edited.lines[0]!)).toMatchObject({ title: 'Renamed by CLI' });
    expect(JSON.parse((await cli('challenges', 'deactivate', slug, '--json')).lines[0]!)).toMatchObject({ active: false });
    expect(JSON.parse((await cli('challenges', 'activate', slug, '--json')).lines[0]!)).toMatchObject({ active: true });
    expect((await cli('challenges', 'list', '--json')).lines.map((l) => (JSON.parse(l) as { slug: string }).slug)).toContain(slug);
    expect(JSON.parse((await cli('challenges', 'show', slug, '--json')).lines[0]!)).toMatchObject({ slug, title: 'Renamed by CLI' });

    const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-cli-'));
    writeFileSync(path.join(dir, 'reference.csv'), REFERENCE_CSV);
    const added = await cli('challenges', 'resources', 'add', slug, path.join(dir, 'reference.csv'), '--as', admin.user.email, '--hidden', '--json');
    expect(added.code, added.lines.join('\n')).toBe(0);
    expect(JSON.parse(added.lines[0]!)).toMatchObject({ name: 'reference.csv', hidden: true, size: REFERENCE_CSV.length });
    const listed = await cli('challenges', 'resources', 'list', slug, '--json');
    expect(listed.lines.map((l) => JSON.parse(l) as { name: string; hidden: boolean })).toEqual([expect.objectContaining({ name: 'reference.csv', hidden: true })]);
    // The key minted for the upload was revoked: the admin has no extra live key left behind.
    const keys = await call(ctx, 'GET', '/api/v1/api-keys', admin.apiKey);
    expect(JSON.stringify(keys.json())).not.toContain('cli:challenges-resources-add');

    await join(slug, ann);
    const s = await submit(slug, ann);
    await completeWith(queue, s.evaluations[0]!.job_id, { accuracy: 0.9 });
    const board = await cli('challenges', 'leaderboard', slug, '--json');
    expect(board.lines.map((l) => JSON.parse(l) as { rank: number; submission_id: string; score: number })).toEqual([expect.objectContaining({ rank: 1, submission_id: s.id, score: 0.9 })]);
    const table = await cli('challenges', 'leaderboard', slug);
    expect(table.lines.join('\n')).toMatch(/RANK\s+USER\s+SCORE[\s\S]*1\s+Ann\s+0\.9/);
    expect((await cli('submissions', 'list', slug, '--state', 'scored', '--json')).lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual([s.id]);
    expect(JSON.parse((await cli('submissions', 'show', s.id, '--json')).lines[0]!)).toMatchObject({ id: s.id, state: 'scored', scores: { accuracy: 0.9 } });
    const watched = await cli('submissions', 'watch', s.id);
    expect(watched.code).toBe(0);
    expect(watched.lines.join('\n')).toContain('scored: accuracy=0.9');

    const again = await cli('submissions', 'reevaluate', s.id, '--json');
    expect(JSON.parse(again.lines[0]!)).toMatchObject({ id: s.id, state: 'evaluating' });
    const newJob = (JSON.parse(again.lines[0]!) as SubmissionJson).evaluations[0]!.job_id;
    // The CLI ran on the real clock: bring the server's manual clock past its run_after.
    ctx.clock.advance(Math.max(0, (Date.now() - ctx.clock.now().getTime()) / 1000 + 1));
    const job = await claimJob(queue, newJob);
    await workerCall(ctx, worker, job.id, 'fail', { attempt: job.attempt, error: { message: 'bad file' }, retryable: false });
    const failedWatch = await cli('submissions', 'watch', s.id, '--json');
    expect(failedWatch.code).toBe(1);
    expect(JSON.parse(failedWatch.lines[0]!)).toMatchObject({ state: 'failed' });

    await submit(slug, ann);
    expect((await cli('challenges', 'remove', slug)).code).not.toBe(0);
    const removed = await cli('challenges', 'remove', slug, '--force', '--json');
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.lines[0]!)).toEqual({ removed: slug, cancelled: 1 });
  }, 90_000);

  it('end to end: an SDK worker running the built-in evaluator downloads the hidden reference and scores; the leaderboard shows it', async () => {
    const { slug, queue } = await newChallenge();
    const ref = await postForm(`/api/v1/challenges/${slug}/resources`, admin.apiKey, [['name', 'reference.csv'], ['hidden', 'true'], ['file', REFERENCE_CSV, 'ref.csv']]);
    expect(ref.status).toBe(201);
    await join(slug, ann);
    await join(slug, bob);
    // Ann: 3 of 4 right (4 is missing); macro F1 = mean(cat 1, dog 1, bird 0) = 2/3. Bob: header only → malformed line 2.
    const good = await submit(slug, ann, 'id,label\n1,cat\n2,dog\n3,dog\n');
    const bad = await submit(slug, bob, 'id,label\n1;cat\n');
    const sdk = new Worker({ server: base, apiKey: workerSecret, queues: [queue], name: 'sdk-evaluator', waitSeconds: 1 });
    for (const [kind, handler] of Object.entries(scorePredictionsHandlers)) sdk.handle(kind, handler);
    const running = sdk.run();
    try {
      for (let i = 0; i < 400; i++) {
        const states = await Promise.all([good.id, bad.id].map(async (id) => (await getSubmission(id)).state));
        if (!states.includes('evaluating')) break;
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      await sdk.stop();
      await running;
    }
    const scored = await getSubmission(good.id);
    expect(scored.state).toBe('scored');
    expect(scored.scores.accuracy).toBe(0.75);
    expect(scored.scores.macro_f1).toBeCloseTo(2 / 3, 12);
    const failed = await getSubmission(bad.id);
    expect(failed.state).toBe('failed');
    expect(failed.errors[0]!.message).toContain('submission, line 2');
    const board = await leaderboard(slug);
    expect(board.items.map((i) => [i.rank, i.user.name, i.score])).toEqual([[1, 'Ann', 0.75]]);
  });
});
