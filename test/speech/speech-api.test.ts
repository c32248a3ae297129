/**
 * The speech module end to end on SQLite and PostgreSQL: questions, multipart uploads analysed by
 * the module's built-in worker (a worker thread claiming over real HTTP), the report written by
 * the job hook, the live topic `speech-session:{id}` over SSE and WebSocket, the recording with
 * ranges, listing, deletion with the audio, refusals, and monthly progress over back-dated
 * sessions (the injected clock moved forward month by month).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODULES } from '../../src/modules/index.js';
import { makePrincipals } from '../access/access-fixtures.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type TestContext } from '../helpers/harness.js';
import { expectProblemResult, get, listen, readResult, type FetchResult } from '../files/files-helpers.js';
import { call, claim, type Headers, JOBS_ENV, makeCast, workerCall } from '../jobs/job-fixtures.js';
import { SseClient, until, WsClient } from '../realtime/fixtures.js';

const SCOPES = ['account:self', 'speech:use', 'files:read', 'files:write', 'events:read'];
const dir = mkdtempSync(join(tmpdir(), 'speech-api-test-'));

interface Reference {
  duration_s: number;
  tone_rms_dbfs: number;
  pauses: Array<[number, number]>;
}

/** Writes signals with test/speech/signals.py (one Python run); returns the bytes and numpy's references by name. */
function makeSignals(specs: Record<string, Record<string, unknown>>): Record<string, { path: string; bytes: Buffer; ref: Reference }> {
  const names = Object.keys(specs);
  const items = names.map((name) => ({ spec: specs[name], out: join(dir, `${name}.wav`) }));
  const refs = JSON.parse(execFileSync('/usr/bin/python3', [new URL('./signals.py', import.meta.url).pathname, JSON.stringify(items)], { encoding: 'utf8' })) as Reference[];
  return Object.fromEntries(names.map((name, i) => [name, { path: items[i]!.out, bytes: readFileSync(items[i]!.out), ref: refs[i]! }]));
}

const SIGNALS = makeSignals({
  tones: { rate: 16000, parts: [{ silence: 0.3 }, { tone: 220, seconds: 1.0, amp: 0.5 }, { silence: 0.6 }, { tone: 220, seconds: 1.0, amp: 0.25 }, { silence: 1.2 }, { tone: 220, seconds: 0.8, amp: 0.5 }, { silence: 0.2 }] },
  fluent: { rate: 16000, parts: [{ silence: 0.2 }, { chirp: [110, 180], seconds: 2.5, amp: 0.4 }, { silence: 0.3 }, { chirp: [180, 110], seconds: 2.5, amp: 0.4 }, { silence: 0.2 }] },
  empty: { rate: 16000, parts: [] },
  long: { rate: 8000, parts: [{ silence: 31 }] },
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface SessionJson {
  id: string;
  owner_id: string;
  question_id: string | null;
  state: 'analysing' | 'done' | 'failed';
  job_id: string;
  duration_s: number;
  score: number | null;
  error: string | null;
  metrics: Record<string, number | null> | null;
  pauses: Array<{ start_s: number; end_s: number }>;
  feedback: string[];
  contours?: { step_s: number; f0_hz: Array<number | null>; loudness_dbfs: Array<number | null> };
  transcript?: string;
  transcript_note?: string;
  created_at: string;
}

describe.each(dialects)('speech module on %s', (dialect) => {
  let ctx: TestContext;
  let base: string;
  let user: Headers;
  let userToken: string;
  let other: Headers;
  let admin: Headers;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { ...JOBS_ENV, SPEECH_MAX_SECONDS: '30', BUILTIN_WORKERS: 'speech-analysis' }, modules: MODULES });
    base = await listen(ctx);
    const owner = await makePrincipals(ctx, { role: 'user', scopes: SCOPES });
    user = owner.apiKey;
    userToken = owner.apiKey.authorization!.replace(/^Bearer /, '');
    other = (await makePrincipals(ctx, { role: 'user', scopes: SCOPES })).apiKey;
    admin = (await makePrincipals(ctx, { role: 'admin' })).apiKey;
    // Transcription (PocketSphinx, about real time) is tested on its own in analysis.test.ts;
    // the worker threads copy this environment when they start.
    process.env.SPEECH_TRANSCRIBE = 'off';
  }, 120_000);
  afterAll(async () => {
    await ctx?.gatehouse.builtinWorkers.stop();
    await ctx?.close();
  });

  /** POSTs a recording as multipart/form-data (fetch's own encoder). */
  async function upload(as: Headers, audio: Buffer, options: { questionId?: string; name?: string; type?: string } = {}): Promise<FetchResult> {
    const form = new FormData();
    if (options.questionId) form.append('question_id', options.questionId);
    form.append('audio', new Blob([audio], { type: options.type ?? 'audio/wav' }), options.name ?? 'answer.wav');
    return readResult(await fetch(`${base}/api/v1/speech/sessions`, { method: 'POST', body: form, headers: as, signal: AbortSignal.timeout(30_000) }));
  }

  async function session(id: string, as: Headers = user): Promise<SessionJson> {
    const res = await call(ctx, 'GET', `/api/v1/speech/sessions/${id}`, as);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<SessionJson>();
  }

  /** Polls the session until its analysis has settled (done or failed). */
  async function settled(id: string, as: Headers = user): Promise<SessionJson> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const current = await session(id, as);
      if (current.state !== 'analysing') return current;
      if (Date.now() > deadline) throw new Error(`session ${id} still analysing`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('creates its queue at start-up when it is missing', async () => {
    const entry = ctx.gatehouse.modules.find((m) => m.module.name === 'speech')!;
    await entry.module.start?.(entry.services);
    const res = await call(ctx, 'GET', '/api/v1/queues/speech', admin);
    expect(res.statusCode, res.body).toBe(200);
  });

  it('questions: managers create, change and delete them; every user lists them, by category', async () => {
    const body = { text: 'Describe your favourite place', category: 'personal', difficulty: 2, expected_seconds: 60 };
    expect((await call(ctx, 'POST', '/api/v1/speech/questions', user, body)).statusCode).toBe(403);
    const created = await call(ctx, 'POST', '/api/v1/speech/questions', admin, body);
    expect(created.statusCode, created.body).toBe(201);
    const question = created.json<{ id: string }>();
    await call(ctx, 'POST', '/api/v1/speech/questions', admin, { text: 'Explain a technical idea', category: 'work' });
    const personal = (await call(ctx, 'GET', '/api/v1/speech/questions?category=personal', user)).json<{ items: Array<{ id: string }> }>();
    expect(personal.items.map((q) => q.id)).toContain(question.id);
    expect(personal.items.every((q) => (q as unknown as { category: string }).category === 'personal')).toBe(true);
    const patched = await call(ctx, 'PATCH', `/api/v1/speech/questions/${question.id}`, admin, { difficulty: null, expected_seconds: 90 });
    expect(patched.json()).toMatchObject({ difficulty: null, expected_seconds: 90, text: body.text });
    expect((await call(ctx, 'PATCH', `/api/v1/speech/questions/${question.id}`, admin, { difficulty: 9 })).statusCode).toBe(400);
    const temporary = (await call(ctx, 'POST', '/api/v1/speech/questions', admin, { text: 'To be removed' })).json<{ id: string }>();
    expect((await call(ctx, 'DELETE', `/api/v1/speech/questions/${temporary.id}`, admin)).statusCode).toBe(204);
    expect((await call(ctx, 'GET', `/api/v1/speech/questions/${temporary.id}`, user)).statusCode).toBe(404);
  });

  it('a cancelled analysis fails its session, in the transaction that records the cancel, and says so on the topic', async () => {
    // No worker runs yet: the job waits in the queue until an admin cancels it.
    const created = (await upload(user, SIGNALS.tones!.bytes)).json as unknown as SessionJson;
    expect((await call(ctx, 'POST', `/api/v1/jobs/${created.job_id}/cancel`, admin)).statusCode).toBe(200);
    const failed = await session(created.id);
    expect(failed).toMatchObject({ state: 'failed', metrics: null, score: null, error: 'The analysis job ended cancelled.' });
    const sse = await SseClient.open(`${base}/api/v1/events?topics=speech-session:${created.id}&last_event_id=0`, user);
    await until(() => sse.messages.some((m) => m.event === 'speech-session.failed'), 10_000, 'the failed event');
    expect(sse.messages.filter((m) => m.event?.startsWith('speech-session.')).map((m) => m.event)).toEqual(['speech-session.created', 'speech-session.failed']);
    await sse.close();
  });

  it('a worker returning a malformed result fails the session, naming what was wrong; an analysis that fails says why', async () => {
    // Still no built-in worker: a hand-driven worker claims the jobs.
    const worker = (await (await makeCast(ctx)).newWorker('hand')).headers;
    const created = (await upload(user, SIGNALS.tones!.bytes)).json as unknown as SessionJson;
    const claimed = await claim(ctx, worker, { queues: ['speech'], wait_s: 0 });
    expect(claimed.statusCode, claimed.body).toBe(200);
    const { job, attempt } = claimed.json<{ job: { id: string; kind: string; input_files: string[] }; attempt: number }>();
    expect(job).toMatchObject({ id: created.job_id, kind: 'speech-analysis' });
    const done = await workerCall(ctx, worker, job.id, 'complete', { attempt, result: { metrics: { duration_s: 'long' } } });
    expect(done.statusCode, done.body).toBe(200);
    expect(await session(created.id)).toMatchObject({ state: 'failed', error: 'The analysis returned a malformed result: metrics.duration_s is not a number' });

    const second = (await upload(user, SIGNALS.tones!.bytes)).json as unknown as SessionJson;
    const next = (await claim(ctx, worker, { queues: ['speech'], wait_s: 0 })).json<{ job: { id: string }; attempt: number }>();
    expect(next.job.id).toBe(second.job_id);
    const failed = await workerCall(ctx, worker, second.job_id, 'fail', { attempt: next.attempt, error: { message: 'ffmpeg could not decode the file' }, retryable: false });
    expect(failed.statusCode, failed.body).toBe(200);
    expect(await session(second.id)).toMatchObject({ state: 'failed', error: 'ffmpeg could not decode the file' });

    // Retried, the job succeeds this time: the failed session becomes done, with its report.
    expect((await call(ctx, 'POST', `/api/v1/jobs/${second.job_id}/retry`, admin)).statusCode).toBe(200);
    const again = (await claim(ctx, worker, { queues: ['speech'], wait_s: 0 })).json<{ job: { id: string }; attempt: number }>();
    expect(again.job.id).toBe(second.job_id);
    const metrics = { duration_s: 5.1, speech_s: 2.8, pause_count: 2, pause_mean_s: 0.9, pause_max_s: 1.2, pause_ratio: 0.3913, speech_rate_syll_s: 0.588, articulation_rate_syll_s: 1.071, loudness_dbfs: -10.39, loudness_sd_db: 2.89, f0_median_hz: 220, f0_p10_hz: 220, f0_p90_hz: 220 };
    const result = { metrics, pauses: [{ start_s: 1.3, end_s: 1.9 }, { start_s: 2.9, end_s: 4.1 }], syllable_count: 3, threshold_dbfs: -33.8, decoder: 'native', transcript_note: 'No transcript was made: transcription is turned off (SPEECH_TRANSCRIBE=off).' };
    expect((await workerCall(ctx, worker, second.job_id, 'complete', { attempt: again.attempt, result })).statusCode).toBe(200);
    const recovered = await session(second.id);
    expect(recovered).toMatchObject({ state: 'done', error: null, metrics, pauses: result.pauses });
    // By hand: 0.588 syll/s → 23.5 wpm, 106.5 below the band → pace 0; pauses 1 − (0.3913 − 0.2)/0.4 = 0.52175;
    // no pitch span → 0. Score 100 × 0.52175 / 3 = 17.4.
    expect(recovered.score).toBe(17.4);
    expect(recovered.feedback[0]).toBe('Your pace was about 24 words per minute, slower than 110: keep the words flowing between ideas.');
  });

  it('end to end: upload, the built-in worker analyses, the report is done with the right numbers, and SSE and WebSocket subscribers get the final event', async () => {
    await ctx.gatehouse.builtinWorkers.start(base);
    expect(ctx.gatehouse.builtinWorkers.names).toEqual(['speech-analysis']);
    const question = (await call(ctx, 'POST', '/api/v1/speech/questions', admin, { text: 'Count to three', expected_seconds: 5 })).json<{ id: string }>();
    const ws = await WsClient.connect(`${base.replace('http', 'ws')}/api/v1/ws`, user);
    const res = await upload(user, SIGNALS.tones!.bytes, { questionId: question.id });
    expect(res.status, res.bytes.toString()).toBe(202);
    const created = res.json as unknown as SessionJson;
    expect(created).toMatchObject({ state: 'analysing', question_id: question.id, duration_s: 5.1, metrics: null });
    ws.send({ type: 'subscribe', topics: [`speech-session:${created.id}`, `job:${created.job_id}`], after: 0 });
    // Replayed from the start (last_event_id=0), so nothing is missed however fast the worker is.
    const sse = await SseClient.open(`${base}/api/v1/events?topics=speech-session:${created.id},job:${created.job_id}&last_event_id=0`, user);
    expect(sse.status, sse.body).toBe(200);
    // Only the owner (and speech:manage) may follow the session.
    const stranger = await SseClient.open(`${base}/api/v1/events?topics=speech-session:${created.id}`, other);
    expect(stranger.status).toBe(404);
    await until(() => sse.messages.some((m) => m.event === 'speech-session.done'), 60_000, 'the final SSE event');
    const final = JSON.parse(sse.messages.find((m) => m.event === 'speech-session.done')!.data!) as { topic: string; type: string; data: { session: SessionJson } };
    expect(final.topic).toBe(`speech-session:${created.id}`);
    const report = final.data.session;
    expect(sse.messages.map((m) => m.event)).toContain('speech-session.created');
    expect(sse.messages.some((m) => m.event === 'job.progress')).toBe(true);
    // The analysis' progress is relayed onto the session's own topic, each step once, before the report.
    const sessionEvents = sse.messages.filter((m) => m.event?.startsWith('speech-session.')).map((m) => JSON.parse(m.data!) as { type: string; seq: number; data: { progress?: number; message?: string | null; session_id?: string } });
    const relayed = sessionEvents.filter((e) => e.type === 'speech-session.progress');
    expect(relayed.length).toBeGreaterThan(0);
    expect(relayed.every((e) => e.data.session_id === created.id)).toBe(true);
    const steps = relayed.map((e) => `${e.data.progress}/${e.data.message ?? ''}`);
    expect(new Set(steps).size).toBe(steps.length);
    for (let i = 1; i < relayed.length; i++) expect(relayed[i]!.data.progress!).toBeGreaterThanOrEqual(relayed[i - 1]!.data.progress!);
    expect(sessionEvents.map((e) => e.seq)).toEqual(sessionEvents.map((_, i) => i + 1));
    expect(sessionEvents[sessionEvents.length - 1]!.type).toBe('speech-session.done');
    await sse.close();
    await until(() => ws.received.some((m) => (m.event as { type?: string } | undefined)?.type === 'speech-session.done'), 30_000, 'the final WebSocket event');
    // Progress of the analysis came over the same socket, from the job's topic, before the report.
    const wsTypes = ws.received.filter((m) => m.type === 'event').map((m) => (m.event as { type: string }).type);
    expect(wsTypes).toContain('progress');
    expect(wsTypes.indexOf('progress')).toBeLessThan(wsTypes.indexOf('speech-session.done'));
    ws.socket.close();

    // The numbers against the closed-form truth and numpy (test/speech/signals.py).
    const ref = SIGNALS.tones!.ref;
    expect(report.state).toBe('done');
    expect(report.metrics!.duration_s).toBe(5.1);
    expect(report.metrics!.pause_count).toBe(2);
    expect(report.pauses.map((p) => Math.round((p.end_s - p.start_s) * 100) / 100)).toEqual([0.6, 1.2]);
    expect(Math.abs(report.metrics!.f0_median_hz! - 220)).toBeLessThanOrEqual(2);
    expect(Math.abs(report.metrics!.loudness_dbfs! - ref.tone_rms_dbfs)).toBeLessThanOrEqual(0.1);
    expect(report.feedback.length).toBeGreaterThan(0);
    // Pitch and loudness over time reach the report (102 steps of 50 ms; values checked in analysis.test.ts).
    expect(report.contours!.step_s).toBe(0.05);
    expect(report.contours!.f0_hz).toHaveLength(102);
    expect(report.contours!.loudness_dbfs).toHaveLength(102);
    expect(Math.abs(report.contours!.f0_hz[10]! - 220)).toBeLessThanOrEqual(2);
    expect(report.transcript).toBeUndefined();
    expect(report.transcript_note).toBe('No transcript was made: transcription is turned off (SPEECH_TRANSCRIBE=off).');
    expect(typeof report.score).toBe('number');
    // GET agrees with the event.
    expect(await session(created.id)).toEqual(report);
  }, 120_000);

  it('serves the recording with ranges to its owner and managers, and to nobody else', async () => {
    const created = (await upload(user, SIGNALS.tones!.bytes)).json as unknown as SessionJson;
    const whole = await get(base, `/api/v1/speech/sessions/${created.id}/audio`, userToken);
    expect(whole.status).toBe(200);
    expect(whole.bytes.equals(SIGNALS.tones!.bytes)).toBe(true);
    const part = await get(base, `/api/v1/speech/sessions/${created.id}/audio`, userToken, { range: 'bytes=0-43' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-43/${SIGNALS.tones!.bytes.length}`);
    expect(part.bytes.equals(SIGNALS.tones!.bytes.subarray(0, 44))).toBe(true);
    expect((await call(ctx, 'GET', `/api/v1/speech/sessions/${created.id}/audio`, other)).statusCode).toBe(404);
    expect((await call(ctx, 'GET', `/api/v1/speech/sessions/${created.id}`, other)).statusCode).toBe(404);
    expect((await call(ctx, 'GET', `/api/v1/speech/sessions/${created.id}/audio`, admin)).statusCode).toBe(200);
    await settled(created.id);
  }, 60_000);

  it('refuses what is not audio (415), empty audio and recordings over SPEECH_MAX_SECONDS (422), keeping nothing', async () => {
    const before = (await call(ctx, 'GET', '/api/v1/users/me/quota', other)).json<{ storage: { used_bytes: number } }>().storage.used_bytes;
    const png = Buffer.from('89504e470d0a1a0a0000000d494844520000000100000001080600000000', 'hex');
    expectProblemResult(await upload(other, png, { name: 'photo.png', type: 'image/png' }), 415, 'speech_not_audio');
    expectProblemResult(await upload(other, SIGNALS.empty!.bytes), 422, 'speech_empty_audio');
    const long = expectProblemResult(await upload(other, SIGNALS.long!.bytes), 422, 'speech_too_long');
    expect(String(long.detail)).toMatch(/SPEECH_MAX_SECONDS/);
    expectProblemResult(await upload(other, SIGNALS.tones!.bytes, { questionId: '018f0000-0000-7000-8000-000000000000' }), 404, 'not_found');
    expect((await call(ctx, 'GET', '/api/v1/users/me/quota', other)).json<{ storage: { used_bytes: number } }>().storage.used_bytes).toBe(before);
    expect((await call(ctx, 'GET', '/api/v1/speech/sessions', other)).json<{ items: unknown[] }>().items).toEqual([]);
  });

  it('lists your own sessions newest first with cursors, by question and month; managers list anyone\'s', async () => {
    const question = (await call(ctx, 'POST', '/api/v1/speech/questions', admin, { text: 'Listing' })).json<{ id: string }>();
    const a = (await upload(other, SIGNALS.tones!.bytes, { questionId: question.id })).json as unknown as SessionJson;
    const b = (await upload(other, SIGNALS.tones!.bytes)).json as unknown as SessionJson;
    const first = (await call(ctx, 'GET', '/api/v1/speech/sessions?limit=1', other)).json<{ items: SessionJson[]; next_cursor: string | null }>();
    expect(first.items.map((s) => s.id)).toEqual([b.id]);
    const second = (await call(ctx, 'GET', `/api/v1/speech/sessions?limit=1&cursor=${first.next_cursor}`, other)).json<{ items: SessionJson[]; next_cursor: string | null }>();
    expect(second.items.map((s) => s.id)).toEqual([a.id]);
    expect(second.next_cursor).toBeNull();
    expect((await call(ctx, 'GET', `/api/v1/speech/sessions?question_id=${question.id}`, other)).json<{ items: SessionJson[] }>().items.map((s) => s.id)).toEqual([a.id]);
    const month = a.created_at.slice(0, 7);
    expect((await call(ctx, 'GET', `/api/v1/speech/sessions?month=${month}`, other)).json<{ items: SessionJson[] }>().items).toHaveLength(2);
    expect((await call(ctx, 'GET', '/api/v1/speech/sessions?month=1999-01', other)).json<{ items: SessionJson[] }>().items).toHaveLength(0);
    const ownerId = a.owner_id;
    expect((await call(ctx, 'GET', `/api/v1/speech/sessions?user_id=${ownerId}`, user)).statusCode).toBe(403);
    expect((await call(ctx, 'GET', `/api/v1/speech/sessions?user_id=${ownerId}`, admin)).json<{ items: SessionJson[] }>().items.map((s) => s.id)).toEqual([b.id, a.id]);
    await settled(a.id, other);
    await settled(b.id, other);
  }, 60_000);

  it('deletes a session with its recording (the storage it used is freed)', async () => {
    const before = (await call(ctx, 'GET', '/api/v1/users/me/quota', other)).json<{ storage: { used_bytes: number } }>().storage.used_bytes;
    const created = (await upload(other, SIGNALS.tones!.bytes)).json as unknown as SessionJson;
    expect((await call(ctx, 'GET', '/api/v1/users/me/quota', other)).json<{ storage: { used_bytes: number } }>().storage.used_bytes).toBe(before + SIGNALS.tones!.bytes.length);
    expect((await call(ctx, 'DELETE', `/api/v1/speech/sessions/${created.id}`, user)).statusCode).toBe(404);
    expect((await call(ctx, 'DELETE', `/api/v1/speech/sessions/${created.id}`, other)).statusCode).toBe(204);
    expect((await call(ctx, 'GET', `/api/v1/speech/sessions/${created.id}`, other)).statusCode).toBe(404);
    expect((await call(ctx, 'GET', `/api/v1/speech/sessions/${created.id}/audio`, other)).statusCode).toBe(404);
    expect((await call(ctx, 'GET', '/api/v1/users/me/quota', other)).json<{ storage: { used_bytes: number } }>().storage.used_bytes).toBe(before);
  });

  it('monthly progress over sessions recorded in three months (the clock moved forward): averages, best session, biggest improvement', async () => {
    const learner = (await makePrincipals(ctx, { role: 'user', scopes: SCOPES })).apiKey;
    const month = (days: number) => new Date(ctx.clock.now().getTime() + days * 86_400_000).toISOString().slice(0, 7);
    const record = async (name: 'tones' | 'fluent') => {
      const created = (await upload(learner, SIGNALS[name]!.bytes)).json as unknown as SessionJson;
      const done = await settled(created.id, learner);
      expect(done.state).toBe('done');
      return done;
    };
    const m1 = [await record('tones')];
    const label1 = m1[0]!.created_at.slice(0, 7);
    ctx.clock.advance(32 * 86_400);
    const m2 = [await record('tones'), await record('fluent')];
    ctx.clock.advance(32 * 86_400);
    const m3 = [await record('fluent')];
    const labels = [label1, m2[0]!.created_at.slice(0, 7), m3[0]!.created_at.slice(0, 7)];
    expect(new Set(labels).size).toBe(3);
    expect(month(0)).toBe(labels[2]);

    const res = await call(ctx, 'GET', '/api/v1/speech/progress?months=3', learner);
    expect(res.statusCode, res.body).toBe(200);
    const progress = res.json<{
      months: Array<{ month: string; session_count: number; score: number | null; averages: Record<string, number | null> | null }>;
      session_count: number;
      best_session: { id: string; score: number } | null;
      biggest_improvement: { from_month: string; to_month: string; score_change: number } | null;
      highlights: string[];
    }>();
    expect(progress.months.map((m) => [m.month, m.session_count])).toEqual([
      [labels[0], 1],
      [labels[1], 2],
      [labels[2], 1],
    ]);
    expect(progress.session_count).toBe(4);
    // By hand from the sessions' own reports: the mean of each month.
    const meanOf = (list: SessionJson[], key: string) => Number((list.reduce((sum, s) => sum + (s.metrics![key] as number), 0) / list.length).toFixed(3));
    for (const [i, list] of [m1, m2, m3].entries()) {
      for (const key of ['duration_s', 'pause_ratio', 'f0_median_hz', 'loudness_dbfs']) expect(progress.months[i]!.averages![key]).toBe(meanOf(list, key));
      expect(progress.months[i]!.score).toBe(Number((list.reduce((sum, s) => sum + s.score!, 0) / list.length).toFixed(1)));
    }
    const all = [...m1, ...m2, ...m3];
    const best = all.reduce((a, b) => (b.score! > a.score! ? b : a));
    expect(progress.best_session).toMatchObject({ id: best.id, score: best.score });
    const scores = progress.months.map((m) => m.score!);
    const changes = [Number((scores[1]! - scores[0]!).toFixed(1)), Number((scores[2]! - scores[1]!).toFixed(1))];
    const top = Math.max(...changes);
    if (top > 0) expect(progress.biggest_improvement).toEqual({ from_month: labels[changes.indexOf(top)], to_month: labels[changes.indexOf(top) + 1], score_change: top });
    else expect(progress.biggest_improvement).toBeNull();
    expect(progress.highlights[0]).toBe(`You practised 4 times in the last 3 months, most in ${labels[1]} (2).`);
    // Two months back only the last one counts.
    const one = (await call(ctx, 'GET', '/api/v1/speech/progress?months=1', learner)).json<{ session_count: number }>();
    expect(one.session_count).toBe(1);
    expect((await call(ctx, 'GET', '/api/v1/speech/progress?months=0', learner)).statusCode).toBe(400);
  }, 120_000);
});
