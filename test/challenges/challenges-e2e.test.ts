/**
 * The challenges module end to end on SQLite and PostgreSQL, with evaluations run by separate
 * `gatehouse worker --builtin score-predictions` processes (the built `dist/`, as deployed):
 * an admin creates a challenge with the built-in evaluator and a hidden reference; participants
 * join and submit (one better, one tie, one malformed); the daily limit answers 429; a participant
 * cannot download the reference; a worker that dies holding a job (one that claims and vanishes,
 * and a real worker process killed with SIGKILL) still ends with every submission settled exactly
 * once; the leaderboard's order, shared ranks and scores are exact.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLabelCsv, scorePredictions } from '../../src/challenges/score-predictions.js';
import { makePrincipals, type Principals } from '../access/access-fixtures.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, loginCookie, makeApiKey, makeUser, type TestContext } from '../helpers/harness.js';
import { BIN, cleanEnv } from '../helpers/server-process.js';
import { listen } from '../files/files-helpers.js';
import { call, claim, type Headers, JOBS_ENV } from '../jobs/job-fixtures.js';
import { SseClient } from '../realtime/fixtures.js';
import type { ChallengeService } from '../../src/challenges/challenges.service.js';

const USER_SCOPES = ['account:self', 'files:read', 'files:write', 'challenges:participate', 'events:read'];

/** The hidden reference: 8 items, 3 labels. */
const REFERENCE = 'id,label\n1,cat\n2,cat\n3,cat\n4,dog\n5,dog\n6,dog\n7,bird\n8,bird\n';
/** 6 of 8 right (7, 8 wrong): accuracy 0.75. */
const ANN = 'id,label\n1,cat\n2,cat\n3,cat\n4,dog\n5,dog\n6,dog\n7,cat\n8,dog\n';
/** Also 6 of 8 right (1, 4 wrong), submitted later: a tie, ranked second with the same rank. */
const BOB = 'id,label\n1,dog\n2,cat\n3,cat\n4,cat\n5,dog\n6,dog\n7,bird\n8,bird\n';
/** 4 of 8 right, with one id missing and one extra: accuracy 0.5. */
const CY = 'id,label\n1,cat\n2,dog\n3,cat\n4,dog\n5,cat\n6,dog\n8,dog\n99,cat\n';
/** Line 3 has one field. */
const MALFORMED = 'id,label\n1,cat\n2\n';

/** Polls `check` until it returns a value (not undefined); fails after `timeoutMs`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface SubmissionJson {
  id: string;
  state: string;
  scores: Record<string, number>;
  errors: Array<{ kind: string; message: string }>;
  evaluations: Array<{ job_id: string; state: string }>;
}

describe.each(dialects)('challenges end to end with worker processes on %s', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let admin: Principals;
  let ann: Principals;
  let bob: Principals;
  let cy: Principals;
  let workerCookie: Headers;
  const children: ChildProcess[] = [];
  const streams: SseClient[] = [];

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV } });
    base = await listen(ctx);
    // What a running server does at start: relay evaluation progress to the submissions' topics.
    await ctx.gatehouse.moduleServices<ChallengeService>('challenges').startProgressRelay();
    admin = await makePrincipals(ctx, { role: 'admin' });
    ann = await makePrincipals(ctx, { role: 'user', name: 'Ann', scopes: USER_SCOPES });
    bob = await makePrincipals(ctx, { role: 'user', name: 'Bob', scopes: USER_SCOPES });
    cy = await makePrincipals(ctx, { role: 'user', name: 'Cy', scopes: USER_SCOPES });
    workerCookie = { cookie: await loginCookie(ctx, await makeUser(ctx, { role: 'worker', name: 'evaluators' })) };
  }, 120_000);
  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    for (const client of streams) await client.close();
    await ctx?.gatehouse.moduleServices<ChallengeService>('challenges').stopProgressRelay();
    await ctx?.close();
  });

  async function postForm(url: string, headers: Headers, parts: Array<[string, string] | [string, string, string]>): Promise<{ status: number; headers: globalThis.Headers; json: Record<string, unknown> }> {
    const form = new FormData();
    for (const part of parts) {
      if (part.length === 2) form.append(part[0], part[1]);
      else form.append(part[0], new Blob([part[1]], { type: 'text/csv' }), part[2]);
    }
    const res = await fetch(`${base}${url}`, { method: 'POST', body: form, headers, signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async function submit(slug: string, who: Principals, csv: string): Promise<SubmissionJson> {
    const res = await postForm(`/api/v1/challenges/${slug}/submissions`, who.apiKey, [['file', csv, 'predictions.csv']]);
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    return res.json as unknown as SubmissionJson;
  }

  async function submission(id: string): Promise<SubmissionJson> {
    return (await call(ctx, 'GET', `/api/v1/submissions/${id}`, admin.apiKey)).json<SubmissionJson>();
  }

  /** Spawns `gatehouse worker --builtin score-predictions` with a key of its own. */
  async function spawnEvaluator(name: string): Promise<{ child: ChildProcess; keyId: string; output: () => string }> {
    const key = await makeApiKey(ctx, workerCookie, { scopes: ['jobs:claim'], name });
    const child = spawn(process.execPath, [BIN, 'worker', '--builtin', 'score-predictions', '--server', base, '--name', name, '--wait-seconds', '1'], {
      env: cleanEnv({ GATEHOUSE_API_KEY: (key.headers.authorization ?? '').replace(/^Bearer /, '') }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (output += c));
    return { child, keyId: key.id, output: () => output };
  }

  it('scores with the built-in evaluator in worker processes, survives dead workers, ranks exactly', async () => {
    const slug = `e2e-${dialect}`;
    const created = await call(ctx, 'POST', '/api/v1/challenges', admin.apiKey, {
      slug,
      title: 'Animals',
      evaluators: [{ kind: 'score-predictions', queue: 'evaluations' }],
      leaderboard: { score: 'accuracy', direction: 'desc' },
      limits: { per_day: 2 },
    });
    expect(created.statusCode, created.body).toBe(201);
    const reference = await postForm(`/api/v1/challenges/${slug}/resources`, admin.apiKey, [['name', 'reference.csv'], ['hidden', 'true'], ['file', REFERENCE, 'reference.csv']]);
    expect(reference.status).toBe(201);
    for (const who of [ann, bob, cy]) expect((await call(ctx, 'POST', `/api/v1/challenges/${slug}/participants`, who.apiKey)).statusCode).toBe(201);

    // A participant cannot download the hidden reference (nor see it in the index).
    const refUrl = `${base}/api/v1/files/${String(reference.json.id)}`;
    expect((await fetch(refUrl, { headers: ann.apiKey })).status).toBe(404);
    const index = await call(ctx, 'GET', `/api/v1/challenges/${slug}/resources`, ann.apiKey);
    expect(index.json<{ items: unknown[] }>().items).toEqual([]);

    const annGood = await submit(slug, ann, ANN);
    ctx.clock.advance(1);
    const bobTie = await submit(slug, bob, BOB);
    // Bob follows his submission live (SSE).
    const live = await SseClient.open(`${base}/api/v1/events?topics=submission:${bobTie.id}`, bob.apiKey);
    streams.push(live);
    expect(live.status, live.body).toBe(200);
    ctx.clock.advance(1);
    const annBad = await submit(slug, ann, MALFORMED);
    ctx.clock.advance(1);
    const cyWorse = await submit(slug, cy, CY);
    ctx.clock.advance(1);
    const bobWorse = await submit(slug, bob, CY);
    // Bob's third in 24 hours.
    const limited = await postForm(`/api/v1/challenges/${slug}/submissions`, bob.apiKey, [['file', BOB, 'p.csv']]);
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ code: 'submission_limit' });
    expect(Number(limited.headers.get('retry-after'))).toBe(86_400 - 3);

    // A worker claims Ann's evaluation and vanishes without a word (its lease will lapse).
    const ghost = await makeApiKey(ctx, workerCookie, { scopes: ['jobs:claim'], name: 'ghost' });
    const ghostClaim = await claim(ctx, ghost.headers, { queues: ['evaluations'], wait_s: 0 });
    expect(ghostClaim.statusCode, ghostClaim.body).toBe(200);
    const ghostJob = ghostClaim.json<{ job: { id: string } }>().job.id;
    expect(ghostJob).toBe(annGood.evaluations[0]!.job_id);

    // Two real evaluator processes; the first is killed (SIGKILL) as soon as it holds a job.
    const first = await spawnEvaluator('evaluator-1');
    const heldBy = async (keyId: string) => {
      const jobs = await call(ctx, 'GET', '/api/v1/jobs?queue=evaluations&limit=200', admin.apiKey);
      return jobs.json<{ items: Array<{ id: string; state: string; worker_id: string | null }> }>().items.filter((j) => j.worker_id === keyId && (j.state === 'running' || j.state === 'paused'));
    };
    await until('evaluator-1 to claim a job', async () => ((await heldBy(first.keyId)).length ? true : undefined));
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const second = await spawnEvaluator('evaluator-2');

    const all = [annGood, bobTie, annBad, cyWorse, bobWorse];
    const deadKeys = [ghost.id, first.keyId];
    /** Waits until every submission settled, except (`allowOrphans`) those whose job a dead worker holds. */
    const settled = async (allowOrphans: boolean) =>
      until(`submissions to settle (${second.output().slice(-6000)})`, async () => {
        // Recomputed each time: a claim the killed process had in flight may still have been granted after it died.
        const orphaned = new Set(allowOrphans ? (await Promise.all(deadKeys.map(heldBy))).flat().map((j) => j.id) : []);
        const states = await Promise.all(all.map(async (s) => [s.id, (await submission(s.id)).state] as const));
        return states.every(([id, state]) => state !== 'evaluating' || orphaned.has(all.find((s) => s.id === id)!.evaluations[0]!.job_id)) ? states : undefined;
      }, 90_000);
    // Everything not held by a dead worker settles; then the lapsed leases are swept and re-run
    // (only once the live worker holds nothing, so moving the clock cannot expire its own lease).
    await settled(true);
    await until('evaluator-2 to be idle', async () => ((await heldBy(second.keyId)).length === 0 ? true : undefined));
    ctx.clock.advance(61);
    expect(await ctx.gatehouse.workerProtocol.sweep()).toBeGreaterThanOrEqual(1);
    await settled(false);

    const [good, tie, bad, worse, bobsWorse] = await Promise.all(all.map((s) => submission(s.id)));
    expect(bobsWorse!.scores.accuracy).toBe(0.5);
    const expected = (csv: string) => scorePredictions(parseLabelCsv(csv, 'submission'), parseLabelCsv(REFERENCE, 'reference')).scores;
    expect(good!.state).toBe('scored');
    expect(good!.scores).toEqual(expected(ANN));
    expect(good!.scores.accuracy).toBe(0.75);
    expect(tie!.scores.accuracy).toBe(0.75);
    expect(worse!.scores.accuracy).toBe(0.5);
    expect(bad!.state).toBe('failed');
    expect(bad!.errors[0]!.message).toContain('submission, line 3');

    const board = await call(ctx, 'GET', `/api/v1/challenges/${slug}/leaderboard`);
    expect(board.json<{ items: Array<{ rank: number; user: { name: string }; submission_id: string; score: number }> }>().items.map((i) => [i.rank, i.user.name, i.submission_id, i.score])).toEqual([
      [1, 'Ann', annGood.id, 0.75],
      [1, 'Bob', bobTie.id, 0.75],
      [3, 'Cy', cyWorse.id, 0.5],
    ]);

    // The worker process's progress and the outcome reached Bob over SSE, in order.
    const events = () => live.messages.filter((m) => m.event && m.data).map((m) => ({ type: m.event!, data: JSON.parse(m.data!) as { data: { evaluation?: { progress: number; progress_message: string | null } } } }));
    await until('submission.scored over SSE', async () => (events().some((e) => e.type === 'submission.scored') ? true : undefined));
    const progress = events().filter((e) => e.type === 'evaluation.progress').map((e) => e.data.data.evaluation!.progress_message);
    expect(progress.length, JSON.stringify(events())).toBeGreaterThanOrEqual(1);
    expect(progress.every((m) => m === 'downloading' || m === 'scoring' || (m ?? '').startsWith('accuracy'))).toBe(true);
    const order = events().map((e) => e.type).filter((t) => t !== 'evaluation.progress');
    expect(order).toEqual(['evaluation.succeeded', 'submission.scored']);

    // Exactly once: every evaluation job has one final state event, and each participant one email per settled submission.
    for (const s of all) {
      const jobId = s.evaluations[0]!.job_id;
      const job = await call(ctx, 'GET', `/api/v1/jobs/${jobId}`, admin.apiKey);
      const events = job.json<{ events: Array<{ type: string; data: { state?: string } }> }>().events;
      expect(events.filter((e) => e.type === 'state' && ['succeeded', 'failed', 'dead'].includes(e.data.state ?? '')), `job ${jobId}`).toHaveLength(1);
    }
    await ctx.flushMail();
    for (const s of all) {
      await ctx.smtp.waitFor((m) => m.text.includes(s.id));
      expect(ctx.smtp.messages.filter((m) => m.text.includes(s.id))).toHaveLength(1);
    }
  }, 180_000);
});
