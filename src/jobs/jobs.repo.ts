/**
 * Queries for the `job` and `worker` tables, including the atomic claim.
 *
 * Every statement that changes a held job is fenced: it matches the job id, the attempt the
 * worker was given, the worker, a held state and an unexpired lease, so a worker whose lease
 * lapsed changes nothing (the "fencing token" of Kleppmann, "How to do distributed locking", 2016).
 */
import { CompiledQuery, type Expression, type RawBuilder, sql } from 'kysely';
import type { DatabaseDialect } from '../config.js';
import type { Executor } from '../db/executor.js';
import type { JobEventRow, JobRow, JobState, JobTable, WorkerTable } from '../db/schema.js';
import type { WriteDatabase, WriteTx } from '../db/transaction.js';
import { insertJobEvents } from '../event-log/event-log.service.js';
import { FINAL_STATES } from './model.js';

/**
 * A job row changed by one operation and the event that operation appended to its history (in the
 * same statement on PostgreSQL, the same transaction on SQLite). Publish `event` once it returns.
 */
export interface JobWithEvent {
  row: JobRow;
  event: JobEventRow;
}

/** `now + seconds` as an ISO timestamp, computed by the database (seconds may be a column). */
function plusSeconds(dialect: DatabaseDialect, nowIso: string, seconds: Expression<number> | RawBuilder<number>): RawBuilder<string> {
  return dialect === 'postgres'
    ? sql<string>`(cast(${nowIso} as timestamptz) + make_interval(secs => ${seconds}))`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', ${nowIso}, '+' || ${seconds} || ' seconds')`;
}

/** `lease_expires_at` of a job claimed or heartbeaten at `nowIso`: now + its queue's lease. */
function leaseFromNow(dialect: DatabaseDialect, nowIso: string): RawBuilder<string> {
  return plusSeconds(dialect, nowIso, leaseOfQueue);
}

/**
 * `state in ('running', 'paused')` with literals: SQLite uses a partial index only when the query
 * repeats its condition literally (bound parameters would make it scan the whole table).
 */
export const HELD = sql<boolean>`state in ('running', 'paused')`;

/** `state = 'queued'` with a literal, so the claim index (partial on queued jobs) serves it (see {@link HELD}). */
export const QUEUED = sql<boolean>`state = 'queued'`;

/** The lease length of the job's own queue, as a correlated subquery on `job`. */
const leaseOfQueue = sql<number>`(select q.lease_seconds from queue q where q.name = job.queue)`;

/**
 * Inserts jobs; rows whose `(queue, idempotency_owner, idempotency_key)` already exists are skipped.
 * @returns the rows actually inserted.
 */
export async function insertJobs(db: Executor, rows: JobTable[]): Promise<JobRow[]> {
  if (!rows.length) return [];
  return db
    .insertInto('job')
    .values(rows)
    .onConflict((oc) => oc.columns(['queue', 'idempotency_owner', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing())
    .returningAll()
    .execute();
}

/** Jobs of `queue` with these idempotency keys in one owner's scope (`''`: the operator's). */
export async function findJobsByIdempotencyKeys(db: Executor, queue: string, owner: string, keys: readonly string[]): Promise<JobRow[]> {
  if (!keys.length) return [];
  return db
    .selectFrom('job')
    .selectAll()
    .where('queue', '=', queue)
    .where('idempotency_owner', '=', owner)
    .where('idempotency_key', 'in', [...keys])
    .execute();
}

/** The job with this id. */
export async function findJob(db: Executor, id: string): Promise<JobRow | undefined> {
  return db.selectFrom('job').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Filters for {@link listJobs}; newest first. */
export interface JobQuery {
  queue?: string | undefined;
  state?: JobState | undefined;
  kind?: string | undefined;
  ownerId?: string | undefined;
  parentType?: string | undefined;
  parentId?: string | undefined;
  /** Ids smaller than this (the previous page's last id). */
  beforeId?: string | undefined;
  limit: number;
}

/** A page of jobs, newest first (`limit + 1` rows so the caller knows whether more follow). */
export async function listJobs(db: Executor, query: JobQuery): Promise<JobRow[]> {
  let q = db.selectFrom('job').selectAll().orderBy('id', 'desc').limit(query.limit + 1);
  if (query.queue) q = q.where('queue', '=', query.queue);
  if (query.state) q = q.where('state', '=', query.state);
  if (query.kind) q = q.where('kind', '=', query.kind);
  if (query.ownerId) q = q.where('owner_id', '=', query.ownerId);
  if (query.parentType) q = q.where('parent_type', '=', query.parentType);
  if (query.parentId) q = q.where('parent_id', '=', query.parentId);
  if (query.beforeId) q = q.where('id', '<', query.beforeId);
  return q.execute();
}

/**
 * Registers the worker or refreshes it. Inside a claim transaction this also takes the worker
 * row's lock, which serialises one worker's concurrent claims (so its held-job count is exact).
 */
export async function upsertWorker(db: Executor, row: WorkerTable): Promise<void> {
  await db
    .insertInto('worker')
    .values(row)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({ name: row.name, capabilities: row.capabilities, last_seen_at: row.last_seen_at }),
    )
    .execute();
}

/** The name a worker gave in its latest claim (`worker_name`, else its API key's name); undefined when it never claimed. */
export async function findWorkerName(db: Executor, id: string): Promise<string | undefined> {
  const row = await db.selectFrom('worker').select('name').where('id', '=', id).executeTakeFirst();
  return row?.name;
}

/** Marks a worker as seen. */
export async function touchWorker(db: Executor, id: string, nowIso: string): Promise<void> {
  await db.updateTable('worker').set({ last_seen_at: nowIso }).where('id', '=', id).execute();
}

/** Jobs this worker holds (running or paused under its lease). */
export async function countHeldJobs(db: Executor, workerId: string): Promise<number> {
  const row = await db
    .selectFrom('job')
    .select(sql<number>`count(*)`.as('n'))
    .where('worker_id', '=', workerId)
    .where(HELD)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Jobs held by this worker (for file access checks). */
export async function findHeldJobs(db: Executor, workerId: string): Promise<JobRow[]> {
  return db.selectFrom('job').selectAll().where('worker_id', '=', workerId).where(HELD).execute();
}

/** What {@link claimJobs} takes. */
export interface ClaimRequest {
  workerId: string;
  queues: readonly string[];
  kinds: readonly string[] | undefined;
  /** At most this many jobs. */
  limit: number;
  nowIso: string;
}

/**
 * Claims up to `limit` claimable jobs inside the caller's write transaction, and appends each
 * one's `state` event (`queued` → `running`): queued, due, in an unpaused requested queue, of a
 * requested kind, best priority first, and only while the worker holds fewer jobs than the
 * queue's `worker_concurrency` (the limit is part of the statement, not trusted to the caller).
 * PostgreSQL: one statement (claim and events in a data-modifying CTE), skipping rows other claims
 * have locked (`FOR UPDATE SKIP LOCKED`). SQLite: a pick of the jobs, an update of each by id,
 * then one insert of the events, in the `BEGIN IMMEDIATE` transaction of `WriteTransactions.write`.
 * @returns the claimed rows (now `running` with `attempt + 1`, a fresh lease and one more event
 *   seq), each with its event.
 */
export async function claimJobs(tx: WriteTx, request: ClaimRequest): Promise<JobWithEvent[]> {
  const { db, dialect } = tx;
  const { workerId, queues, kinds, limit, nowIso } = request;
  if (dialect === 'sqlite') {
    // Pick the jobs, then claim them by id. The single `UPDATE … WHERE id IN (<the same SELECT>)`
    // this replaces cost 3–7× as much for one job (measured on a bench database of 45k jobs, 50
    // workers, group commits of 50: 70–230 µs per claim against about 30 µs), and BEGIN IMMEDIATE
    // already makes the pair atomic: no other writer runs between the pick and the update.
    const picked = (await db.executeQuery<{ id: string }>(
      CompiledQuery.raw(sqliteCandidatesText(queues.length, kinds?.length ?? 0), [...queues, nowIso, workerId, ...(kinds ?? []), limit]),
    )).rows;
    if (!picked.length) return [];
    const ids = picked.map((p) => p.id);
    const claimed = (await db.executeQuery<JobRow>(CompiledQuery.raw(sqliteClaimText(ids.length), [workerId, nowIso, nowIso, nowIso, nowIso, ...ids]))).rows;
    // RETURNING has no defined order: back to the pick's (best job first).
    const rank = new Map(ids.map((id, i) => [id, i]));
    const rows = claimed.sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));
    return withEvents(db, rows, (row) => stateEventData(row, 'queued'), nowIso, 'state', 'sqlite');
  }
  const kindFilter = kinds?.length ? sql`and j.kind in (${sql.join(kinds)})` : sql``;
  const held = sql`(select count(*) from job h where h.worker_id = ${workerId} and h.state in ('running', 'paused'))`;
  const candidates = sql`
    select j.id from job j join queue q on q.name = j.queue
    where j.state = 'queued' and j.queue in (${sql.join(queues)}) and j.run_after <= ${nowIso}
      and q.paused = 0 and ${held} < q.worker_concurrency ${kindFilter}
    order by j.priority desc, j.run_after, j.id
    limit ${limit}`;
  // PostgreSQL: the claim and its `state` events in one statement (one round trip).
  const result = await sql<JobRow & { ev_id: number; ev_data: string }>`
    with ${claimedWithEventsPg(sql`(${candidates} for update of j skip locked)`, sql`${workerId}`, nowIso)}
    select claimed.*, ev.id as ev_id, ev.data as ev_data from claimed join ev on ev.job_id = claimed.id`.execute(db);
  return result.rows.map(({ ev_id, ev_data, ...rest }) => {
    const row = rest as JobRow;
    return { row, event: { id: ev_id, job_id: row.id, queue: row.queue, seq: row.event_seq, type: 'state', data: ev_data, created_at: nowIso } };
  });
}

/** SQLite claim texts by the number of picked jobs, written once. */
const sqliteClaimTexts = new Map<number, string>();

/**
 * The SQLite text that claims `count` picked jobs by id (they are queued: the pick ran in the same
 * transaction), each with a lease of its queue's length. Its parameters: worker id, now ×4, the ids.
 */
function sqliteClaimText(count: number): string {
  let text = sqliteClaimTexts.get(count);
  if (text) return text;
  text = `update job set state = 'running', attempt = attempt + 1, worker_id = ?,
      lease_expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', ?, '+' || (select q.lease_seconds from queue q where q.name = job.queue) || ' seconds'),
      started_at = coalesce(started_at, ?), heartbeat_at = ?, updated_at = ?, event_seq = event_seq + 1
    where id in (${Array.from({ length: count }, () => '?').join(', ')}) and state = 'queued'
    returning *`;
  sqliteClaimTexts.set(count, text);
  return text;
}

/** SQLite pick texts by shape (`<queues>,<kinds>`), written once: Kysely would rebuild and recompile the pick on every call. */
const sqliteCandidatesTexts = new Map<string, string>();

/**
 * The SQLite text that picks the jobs {@link claimJobs} claims, for `queues` queues and `kinds` kinds (0: any kind). Its parameters: the queues, now,
 * worker id, the kinds, limit.
 */
function sqliteCandidatesText(queues: number, kinds: number): string {
  const key = `${queues},${kinds}`;
  let text = sqliteCandidatesTexts.get(key);
  if (text) return text;
  const list = (n: number) => Array.from({ length: n }, () => '?').join(', ');
  // The same choice as the PostgreSQL statement's, in SQLite's words. The index hint: SQLite's
  // planner may prefer another index of `job` and then sort every queued job of the queue (1.4 ms
  // per claim at 10k queued); the claim index already holds them in claim order.
  text = `select j.id from job j indexed by job_claim_idx join queue q on q.name = j.queue
    where j.state = 'queued' and j.queue in (${list(queues)}) and j.run_after <= ?
      and q.paused = 0 and (select count(*) from job h where h.worker_id = ? and h.state in ('running', 'paused')) < q.worker_concurrency
      ${kinds ? `and j.kind in (${list(kinds)})` : ''}
    order by j.priority desc, j.run_after, j.id
    limit ?`;
  sqliteCandidatesTexts.set(key, text);
  return text;
}

/**
 * PostgreSQL: the `ev` CTE that appends one `state` event per row of the CTE `rows` (jobs just
 * moved to `to`, from `from` or, for a completion, null), each with the job's new `event_seq` as
 * its `seq`, its attempt and worker, at `nowIso`; it returns `id, job_id, data` for the caller to
 * join back. Shared by the claim and completion statements, so their events cannot drift apart.
 */
function stateEventsPg(rows: 'claimed' | 'upd', to: 'running' | 'succeeded', from: 'queued' | null, nowIso: string): RawBuilder<unknown> {
  return sql`ev as (
      insert into job_event (job_id, queue, seq, type, data, created_at)
      select id, queue, event_seq, 'state',
        jsonb_build_object('state', ${sql.lit(to)}, 'from', ${from === null ? sql`null` : sql.lit(from)}, 'attempt', attempt, 'worker_id', worker_id), ${nowIso}
      from ${sql.table(rows)}
      returning id, job_id, data
    )`;
}

/**
 * The `claimed` and `ev` CTEs every PostgreSQL claim statement ends with: the jobs of `source` (a
 * FROM item with an `id` column, aliased `c` here) become `running` for the worker `workerId`
 * names (a value, or a column of `c`), with the next attempt, a lease of their queue's length and
 * the next event sequence number, and each gets its `state` event in `job_event`. One place, so
 * that a single worker's claim and a batch of workers' claims cannot drift apart.
 */
function claimedWithEventsPg(source: RawBuilder<unknown>, workerId: RawBuilder<unknown>, nowIso: string): RawBuilder<unknown> {
  return sql`claimed as (
      update job set
        state = 'running', attempt = job.attempt + 1, worker_id = ${workerId},
        lease_expires_at = ${plusSeconds('postgres', nowIso, leaseOfQueue)},
        started_at = coalesce(job.started_at, ${nowIso}), heartbeat_at = ${nowIso}, updated_at = ${nowIso},
        event_seq = job.event_seq + 1
      from ${source} c
      where job.id = c.id
      returning job.*
    ), ${stateEventsPg('claimed', 'running', 'queued', nowIso)}`;
}

/** What {@link claimJobsLockingWorkerPg} takes: a claim request and the worker's concurrency. */
export interface LockingClaimRequest extends ClaimRequest {
  /** The largest `worker_concurrency` of the requested queues: a batch claim takes at most this minus what the worker holds. */
  maxConcurrency: number;
}

/**
 * PostgreSQL: a whole claim in ONE statement and no explicit transaction (one round trip): locks
 * the worker's row and counts the jobs it holds with a snapshot taken after the lock (migration
 * 0012's `gatehouse_worker_held_jobs`), so concurrent claims of one worker key stay exact on every
 * instance; then claims up to `min(limit, maxConcurrency − held)` jobs as {@link claimJobs} does
 * (`FOR UPDATE SKIP LOCKED`; a row another claim took meanwhile is re-checked and skipped) and
 * appends their `state` events. The worker's row must exist (else nothing is locked: use
 * {@link claimJobs} in the transaction that upserts it).
 * @returns the claimed rows with their events, or `busy` when none was claimed and the worker
 *   holds `maxConcurrency` jobs or more.
 */
export async function claimJobsLockingWorkerPg(db: Executor, request: LockingClaimRequest): Promise<JobWithEvent[] | 'busy'> {
  const { workerId, queues, kinds, limit, nowIso, maxConcurrency } = request;
  const kindFilter = kinds?.length ? sql`and j.kind in (${sql.join(kinds)})` : sql``;
  // `room` runs once, before the candidates are read (LIMIT's subquery is evaluated first).
  const result = await sql<JobRow & { room_held: number; ev_id: number | null; ev_data: string | null }>`
    with room as materialized (select gatehouse_worker_held_jobs(${workerId}) as held),
    ${claimedWithEventsPg(
      sql`(
        select j.id from job j join queue q on q.name = j.queue
        where j.state = 'queued' and j.queue in (${sql.join(queues)}) and j.run_after <= ${nowIso}
          and q.paused = 0 and (select held from room) < q.worker_concurrency ${kindFilter}
        order by j.priority desc, j.run_after, j.id
        limit greatest(0, least(cast(${limit} as integer), cast(${maxConcurrency} as integer) - (select held from room)))
        for update of j skip locked
      )`,
      sql`${workerId}`,
      nowIso,
    )}
    select room.held as room_held, claimed.*, ev.id as ev_id, ev.data as ev_data
    from room left join (claimed join ev on ev.job_id = claimed.id) on true`.execute(db);
  const claimed = result.rows.filter((r) => r.ev_id !== null);
  if (!claimed.length) return Number(result.rows[0]?.room_held ?? 0) >= maxConcurrency ? 'busy' : [];
  return claimed.map(({ room_held: _held, ev_id, ev_data, ...rest }) => {
    const row = rest as JobRow;
    return { row, event: { id: ev_id as number, job_id: row.id, queue: row.queue, seq: row.event_seq, type: 'state', data: ev_data as string, created_at: nowIso } };
  });
}

/** One worker's part of {@link claimJobsForWorkersPg}: at most `limit` jobs for `workerId`. */
export interface WorkerClaim {
  workerId: string;
  limit: number;
}

/**
 * PostgreSQL: the claims of several workers from ONE queue in ONE statement (one round trip, one
 * commit), for claims that arrive together. Like {@link claimJobsLockingWorkerPg} for each worker:
 * it locks each worker's row and counts the jobs it holds with a snapshot taken after the lock
 * (migration 0012), so the per-worker limit (`worker_concurrency` of the queue, read by the
 * statement) stays exact across instances; worker rows are locked in the order given, so callers
 * sort `claims` by worker id (two such statements then never wait on each other in a cycle). Each
 * worker gets up to `min(limit, worker_concurrency − held)` of the best claimable jobs (the first
 * worker the best ones), locked with `FOR UPDATE SKIP LOCKED`; their `state` events are appended
 * in the same statement. Every worker id must appear once; a worker whose row no longer exists
 * (its key was deleted meanwhile) gets nothing, so it cannot fail the others' claims.
 * @returns per claim, in the order of `claims`: its jobs with their events, or `busy` when it got
 *   none and its worker holds `worker_concurrency` jobs or more.
 */
export async function claimJobsForWorkersPg(
  db: Executor,
  request: { queue: string; kinds: readonly string[] | undefined; nowIso: string; claims: readonly WorkerClaim[] },
): Promise<Array<JobWithEvent[] | 'busy'>> {
  const { queue, kinds, nowIso, claims } = request;
  if (!claims.length) return [];
  const kindFilter = kinds?.length ? sql`and j.kind in (${sql.join(kinds)})` : sql``;
  const values = sql.join(claims.map((c, n) => sql`(cast(${n} as integer), cast(${c.workerId} as text), cast(${c.limit} as integer))`));
  // `room` locks and counts once per worker, in VALUES order, before the candidates are read (the
  // LIMIT's subquery is evaluated first). Window functions may not share a query level with FOR
  // UPDATE, so the locked candidates are numbered one level up and dealt out by cumulative share.
  const result = await sql<JobRow & { req_n: number; req_held: number; req_conc: number; ev_id: number | null; ev_data: string | null }>`
    with req (n, worker_id, want) as (values ${values}),
    conc as materialized (select worker_concurrency as conc, paused from queue where name = ${queue}),
    room as materialized (
      select n, worker_id, want, gatehouse_worker_held_jobs(worker_id) as held,
        exists (select 1 from worker w where w.id = req.worker_id) as known
      from req
    ),
    share as materialized (
      select n, worker_id, held, k, sum(k) over (order by n) as upto from (
        select n, worker_id, held, case when known then greatest(0, least(want, (select conc from conc) - held)) else 0 end as k from room
      ) r
    ),
    locked as materialized (
      select j.id, j.priority, j.run_after from job j
      where j.state = 'queued' and j.queue = ${queue} and j.run_after <= ${nowIso} ${kindFilter}
        and (select paused from conc) = 0
      order by j.priority desc, j.run_after, j.id
      limit (select coalesce(sum(k), 0) from share)
      for update of j skip locked
    ),
    pairs as (
      select c.id, s.worker_id from (select id, row_number() over (order by priority desc, run_after, id) as r from locked) c
      join share s on c.r > s.upto - s.k and c.r <= s.upto
    ),
    ${claimedWithEventsPg(sql`pairs`, sql`c.worker_id`, nowIso)}
    select share.n as req_n, share.held as req_held, (select conc from conc) as req_conc, claimed.*, ev.id as ev_id, ev.data as ev_data
    from share left join (claimed join ev on ev.job_id = claimed.id) on claimed.worker_id = share.worker_id`.execute(db);
  const out: Array<JobWithEvent[] | 'busy'> = claims.map(() => []);
  const held = new Map<number, boolean>();
  for (const r of result.rows) {
    const n = Number(r.req_n);
    held.set(n, Number(r.req_held) >= Number(r.req_conc ?? 0));
    if (r.ev_id === null) continue;
    const { req_n: _n, req_held: _held, req_conc: _conc, ev_id, ev_data, ...rest } = r;
    const row = rest as JobRow;
    (out[n] as JobWithEvent[]).push({
      row,
      event: { id: ev_id, job_id: row.id, queue: row.queue, seq: row.event_seq, type: 'state', data: ev_data as string, created_at: nowIso },
    });
  }
  return out.map((jobs, n) => (jobs !== 'busy' && !jobs.length && held.get(n) ? 'busy' : jobs));
}

/** The data of a `state` event of a job that moved from `from` to its current state (JSON text). */
function stateEventData(row: JobRow, from: string | null): string {
  return JSON.stringify({ state: row.state, from, attempt: row.attempt, worker_id: row.worker_id });
}

/**
 * Appends one event per updated row (`seq` = the row's new `event_seq`) in one insert.
 * @returns the rows with their events, in the order of `rows`.
 */
async function withEvents(
  db: Executor,
  rows: JobRow[],
  data: (row: JobRow) => string,
  nowIso: string,
  type = 'state',
  /** The engine, when the caller knows it (lets a single event take the precompiled insert). */
  dialect?: DatabaseDialect,
): Promise<JobWithEvent[]> {
  const events = await insertJobEvents(
    db,
    rows.map((row) => ({ job_id: row.id, queue: row.queue, seq: row.event_seq, type, data: data(row), created_at: nowIso })),
    dialect,
  );
  const byJob = new Map(events.map((e) => [e.job_id, e]));
  return rows.map((row) => ({ row, event: byJob.get(row.id) as JobEventRow }));
}

/** Column changes of a job; a value may also be an SQL expression evaluated on the row. */
export type JobChanges = { [K in keyof JobTable]?: JobTable[K] | RawBuilder<JobTable[K]> };

/** Identifies a held job for a fenced change: the worker must hold it under this attempt with a live lease. */
export interface Fence {
  jobId: string;
  attempt: number;
  workerId: string;
  nowIso: string;
  /**
   * The held state the job must be in: `running` (a completion: a paused job may not complete),
   * `paused`, or undefined for either.
   */
  state?: 'running' | 'paused' | undefined;
}

/** `state in ('running', 'paused')`, or `state = '<fence.state>'`, with literals (see {@link HELD}). */
function heldState(fence: Fence): RawBuilder<boolean> {
  if (fence.state === 'running') return sql<boolean>`state = 'running'`;
  if (fence.state === 'paused') return sql<boolean>`state = 'paused'`;
  return HELD;
}

/** What a heartbeat may change. */
export interface HeartbeatChange {
  progress?: number | undefined;
  message?: string | undefined;
  /** Serialised metrics object. */
  metrics?: string | undefined;
}

/**
 * Extends the lease of a held job and records its progress, fenced. A heartbeat that carries
 * progress, a message or metrics also appends a `progress` event (`{progress, message, metrics?}`):
 * on PostgreSQL in the same statement (one round trip, no explicit transaction), on SQLite in one
 * write transaction.
 * @returns the updated row (with its event when one was appended), or undefined when the fence does not hold.
 */
export async function heartbeatJob(
  database: WriteDatabase,
  fence: Fence,
  change: HeartbeatChange,
): Promise<{ row: JobRow; event?: JobEventRow } | undefined> {
  const appendsEvent = change.progress !== undefined || change.message !== undefined || change.metrics !== undefined;
  if (!appendsEvent) {
    const row = await heartbeatUpdate(database.db, database.dialect, fence, change, false);
    return row && { row };
  }
  if (database.dialect === 'postgres') {
    const changes: Record<string, unknown> = { lease_expires_at: leaseFromNow('postgres', fence.nowIso), heartbeat_at: fence.nowIso };
    if (change.progress !== undefined) changes.progress = change.progress;
    if (change.message !== undefined) changes.progress_message = change.message;
    if (change.metrics !== undefined) changes.metrics = change.metrics;
    const data = sql`jsonb_build_object('progress', progress, 'message', progress_message)${change.metrics === undefined ? sql`` : sql` || jsonb_build_object('metrics', metrics)`}`;
    return updateFencedJobWithEventPg(database.db, fence, changes, { type: 'progress', data });
  }
  return database.write(async (tx) => {
    const row = await heartbeatUpdate(tx.db, tx.dialect, fence, change, true);
    if (!row) return undefined;
    const data = (r: JobRow) => {
      const text = JSON.stringify({ progress: r.progress, message: r.progress_message });
      return change.metrics === undefined ? text : `${text.slice(0, -1)},"metrics":${change.metrics}}`;
    };
    const [done] = await withEvents(tx.db, [row], data, fence.nowIso, 'progress');
    return done;
  });
}

/** The heartbeat's fenced update (lease, progress), bumping `event_seq` when an event follows. */
async function heartbeatUpdate(
  db: Executor,
  dialect: DatabaseDialect,
  fence: Fence,
  change: HeartbeatChange,
  appendsEvent: boolean,
): Promise<JobRow | undefined> {
  const assignments = [
    sql`lease_expires_at = ${plusSeconds(dialect, fence.nowIso, leaseOfQueue)}`,
    sql`heartbeat_at = ${fence.nowIso}`,
    sql`updated_at = ${fence.nowIso}`,
  ];
  if (change.progress !== undefined) assignments.push(sql`progress = ${change.progress}`);
  if (change.message !== undefined) assignments.push(sql`progress_message = ${change.message}`);
  if (change.metrics !== undefined) assignments.push(sql`metrics = ${change.metrics}`);
  if (appendsEvent) assignments.push(sql`event_seq = event_seq + 1`);
  const result = await sql<JobRow>`
    update job set ${sql.join(assignments)}
    where id = ${fence.jobId} and attempt = ${fence.attempt} and worker_id = ${fence.workerId}
      and state in ('running', 'paused') and lease_expires_at > ${fence.nowIso}
    returning *`.execute(db);
  return result.rows[0];
}

/**
 * Applies `changes` to a held job if the fence holds, appending one event seq.
 * @returns the updated row, or undefined when the fence does not hold.
 */
export async function updateFencedJob(db: Executor, fence: Fence, changes: JobChanges): Promise<JobRow | undefined> {
  return db
    .updateTable('job')
    .set(Object.assign({}, changes, { event_seq: sql<number>`event_seq + 1`, updated_at: fence.nowIso }))
    .where('id', '=', fence.jobId)
    .where('attempt', '=', fence.attempt)
    .where('worker_id', '=', fence.workerId)
    .where(heldState(fence))
    .where('lease_expires_at', '>', fence.nowIso)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Moves a job from one of `fromStates` (an optimistic check against concurrent changes), appending
 * one event seq. `heldBy` narrows it to jobs held (`true`) or not held (`false`) by a worker.
 * @returns the updated row, or undefined when the job was no longer in such a state.
 */
export async function transitionJob(
  db: Executor,
  id: string,
  fromStates: readonly JobState[],
  changes: Partial<JobTable>,
  nowIso: string,
  heldBy?: boolean,
): Promise<JobRow | undefined> {
  let q = db
    .updateTable('job')
    .set(Object.assign({}, changes, { event_seq: sql<number>`event_seq + 1`, updated_at: nowIso }))
    .where('id', '=', id)
    .where('state', 'in', [...fromStates]);
  if (heldBy === true) q = q.where('worker_id', 'is not', null);
  if (heldBy === false) q = q.where('worker_id', 'is', null);
  return q.returningAll().executeTakeFirst();
}

/** Held jobs whose lease lapsed before `nowIso`, oldest lease first. */
export async function findLapsedLeases(db: Executor, nowIso: string, limit: number): Promise<JobRow[]> {
  return db
    .selectFrom('job')
    .selectAll()
    .where(HELD)
    .where('lease_expires_at', '<', nowIso)
    .orderBy('lease_expires_at')
    .limit(limit)
    .execute();
}

/**
 * Reclaims one lapsed lease if nobody did meanwhile (safe to race between instances: the
 * conditional update succeeds once).
 */
export async function reclaimLapsedJob(
  db: Executor,
  row: JobRow,
  nowIso: string,
  changes: Partial<JobTable>,
): Promise<JobRow | undefined> {
  return db
    .updateTable('job')
    .set(Object.assign({}, changes, { event_seq: sql<number>`event_seq + 1`, updated_at: nowIso }))
    .where('id', '=', row.id)
    .where('attempt', '=', row.attempt)
    .where('state', 'in', ['running', 'paused'])
    .where('lease_expires_at', '<', nowIso)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Deletes up to `limit` finished jobs (and, by cascade, their events) that finished before
 * `beforeIso`, oldest first. @returns how many.
 */
export async function deleteFinishedJobs(db: Executor, beforeIso: string, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('job')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('job')
        .select('id')
        .where('state', 'in', [...FINAL_STATES])
        .where('finished_at', '<', beforeIso)
        .orderBy('finished_at')
        .limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The ids (JSON array text, oldest first) of the output files uploaded for the job being updated. */
function outputFilesOfUpdatedJob(dialect: DatabaseDialect): RawBuilder<string> {
  return dialect === 'postgres'
    ? sql<string>`coalesce((select jsonb_agg(f.id order by f.id) from file f where f.job_id = job.id and f.purpose = 'output'), '[]'::jsonb)`
    : sql<string>`(select json_group_array(id) from (select f.id from file f where f.job_id = job.id and f.purpose = 'output' order by f.id))`;
}

/**
 * PostgreSQL: a fenced change and its event in ONE statement (a data-modifying CTE), so a
 * completion or a progress heartbeat costs one round trip and no explicit transaction. `data` is
 * a jsonb expression that may read the updated row's columns.
 * @returns the updated row and its event row, or undefined when the fence does not hold.
 */
async function updateFencedJobWithEventPg(
  db: Executor,
  fence: Fence,
  changes: Record<string, unknown>,
  event: { type: string; data: RawBuilder<unknown> },
  /** More `and …` conditions on the row `job`. */
  also: RawBuilder<unknown> = sql``,
): Promise<JobWithEvent | undefined> {
  const assignments = Object.entries(changes).map(([column, value]) => sql`${sql.ref(column)} = ${value}`);
  const result = await sql<JobRow & { ev_id: number; ev_seq: number; ev_created_at: string; ev_data: string }>`
    with upd as (
      update job set ${sql.join(assignments)}, event_seq = event_seq + 1, updated_at = ${fence.nowIso}
      where id = ${fence.jobId} and attempt = ${fence.attempt} and worker_id = ${fence.workerId}
        and ${heldState(fence)} and lease_expires_at > ${fence.nowIso} ${also}
      returning *
    ), ev as (
      insert into job_event (job_id, queue, seq, type, data, created_at)
      select id, queue, event_seq, ${event.type}, ${event.data}, ${fence.nowIso} from upd
      returning id, seq, data, created_at
    )
    select upd.*, ev.id as ev_id, ev.seq as ev_seq, ev.data as ev_data, ev.created_at as ev_created_at from upd, ev`.execute(db);
  const first = result.rows[0];
  if (!first) return undefined;
  const { ev_id, ev_seq, ev_data, ev_created_at, ...row } = first;
  return {
    row: row as JobRow,
    event: { id: ev_id, job_id: row.id, queue: row.queue, seq: ev_seq, type: event.type, data: ev_data, created_at: ev_created_at },
  };
}

/** One fenced completion of {@link completeJobs}: `result` is JSON text. */
export interface BatchItem {
  id: string;
  attempt: number;
  result: string;
}

/**
 * PostgreSQL: completes many held, running jobs of one worker and appends their `state` events in
 * ONE statement (each row fenced on its own; jobs whose fence fails, or that are paused, are
 * simply not updated).
 * @returns the completed jobs with their event rows.
 */
async function completeJobsPg(
  db: Executor,
  workerId: string,
  items: readonly BatchItem[],
  nowIso: string,
  /** More `and …` conditions on the rows `job`, which may read the batch `v (id, attempt, result)`. */
  also: RawBuilder<unknown> = sql``,
): Promise<Array<{ row: Pick<JobRow, 'id' | 'queue' | 'owner_id' | 'event_seq'>; event: JobEventRow }>> {
  if (!items.length) return [];
  const values = sql.join(items.map((i) => sql`(${i.id}, cast(${i.attempt} as integer), cast(${i.result} as jsonb))`));
  const result = await sql<{ id: string; queue: string; owner_id: string | null; event_seq: number; ev_id: number; ev_data: string }>`
    with v (id, attempt, result) as (values ${values}),
    upd as (
      update job set state = 'succeeded', result = v.result, progress = 1, finished_at = ${nowIso}, lease_expires_at = null,
        output_files = ${outputFilesOfUpdatedJob('postgres')}, event_seq = job.event_seq + 1, updated_at = ${nowIso}
      from v
      where job.id = v.id and job.attempt = v.attempt and job.worker_id = ${workerId}
        and job.state = 'running' and job.lease_expires_at > ${nowIso} ${also}
      returning job.id, job.queue, job.owner_id, job.event_seq, job.attempt, job.worker_id
    ), ${stateEventsPg('upd', 'succeeded', null, nowIso)}
    select upd.id, upd.queue, upd.owner_id, upd.event_seq, ev.id as ev_id, ev.data as ev_data from upd join ev on ev.job_id = upd.id`.execute(db);
  return result.rows.map((r) => ({
    row: { id: r.id, queue: r.queue, owner_id: r.owner_id, event_seq: r.event_seq },
    event: { id: r.ev_id, job_id: r.id, queue: r.queue, seq: r.event_seq, type: 'state', data: r.ev_data, created_at: nowIso },
  }));
}


/** One completion of {@link completeJobsForWorkersPg}: a fenced job of any worker and what it records. */
export interface WorkerCompletion extends Completion {
  jobId: string;
  attempt: number;
  workerId: string;
}

/**
 * PostgreSQL: the completions of several workers' jobs in ONE statement (one round trip, one
 * commit), for completions that arrive together. Each is fenced on its own, exactly as
 * {@link completeJob} fences one (job id, attempt, worker, `running`, unexpired lease at
 * `nowIso`), and appends the job's `state` event. Jobs `within` selects (by kind or parent type)
 * are left alone: their completion must run the hooks in a transaction ({@link completeJob}). Every
 * job id must appear once.
 * @returns per completion, in the order given: the completed row and its event, or undefined when
 *   its fence does not hold or `within` selects the job (then call {@link completeJob} for it).
 */
export async function completeJobsForWorkersPg(
  db: Executor,
  items: readonly WorkerCompletion[],
  nowIso: string,
  within?: OutcomeWork<unknown>,
): Promise<Array<JobWithEvent | undefined>> {
  if (!items.length) return [];
  const values = sql.join(
    items.map(
      (i) =>
        sql`(cast(${i.jobId} as text), cast(${i.attempt} as integer), cast(${i.workerId} as text), cast(${i.result} as jsonb), cast(${i.outputFiles ? JSON.stringify(i.outputFiles) : null} as jsonb))`,
    ),
  );
  const watched = within && watchedByHooks('job', within);
  const result = await sql<JobRow & { ev_id: number; ev_data: string }>`
    with v (id, attempt, worker_id, result, files) as (values ${values}),
    upd as (
      update job set state = 'succeeded', result = v.result, progress = 1, finished_at = ${nowIso}, lease_expires_at = null,
        output_files = coalesce(v.files, ${outputFilesOfUpdatedJob('postgres')}), event_seq = job.event_seq + 1, updated_at = ${nowIso}
      from v
      where job.id = v.id and job.attempt = v.attempt and job.worker_id = v.worker_id
        and job.state = 'running' and job.lease_expires_at > ${nowIso} ${watched ? sql`and not ${watched}` : sql``}
      returning job.*
    ), ${stateEventsPg('upd', 'succeeded', null, nowIso)}
    select upd.*, ev.id as ev_id, ev.data as ev_data from upd join ev on ev.job_id = upd.id`.execute(db);
  const byId = new Map<string, JobWithEvent>();
  for (const { ev_id, ev_data, ...rest } of result.rows) {
    const row = rest as JobRow;
    byId.set(row.id, { row, event: { id: ev_id, job_id: row.id, queue: row.queue, seq: row.event_seq, type: 'state', data: ev_data, created_at: nowIso } });
  }
  return items.map((i) => byId.get(i.jobId));
}

/** What a completion records: the result (JSON text) and, when the worker names them, its output files. */
export interface Completion {
  result: string;
  /** Without a list, the outputs are what the worker uploaded for the job, read by the same statement. */
  outputFiles?: readonly string[] | undefined;
}

/**
 * Work to run inside the transaction that records a job's outcome (the modules' job hooks). A job
 * it may select makes the completion a transaction on PostgreSQL too; a throw rolls the outcome back.
 */
export type InOutcomeTransaction = (tx: WriteTx, done: JobWithEvent) => Promise<void>;

/**
 * The outcome work of {@link completeJob} / {@link completeJobs} and which jobs it concerns: jobs
 * of one of `kinds` or with one of `parentTypes` (what the registered hooks select). On PostgreSQL
 * every other job completes in one statement; these go through a transaction that runs `run`.
 */
export interface OutcomeWork<F> {
  kinds: readonly string[];
  parentTypes: readonly string[];
  run: F;
}

/**
 * `(<alias>.kind in (…) or <alias>.parent_type in (…))`: the job rows `work` selects, never null;
 * undefined when it selects none.
 */
function watchedByHooks(alias: string, work: OutcomeWork<unknown>): RawBuilder<boolean> | undefined {
  const parts = [];
  if (work.kinds.length) parts.push(sql`${sql.ref(`${alias}.kind`)} in (${sql.join(work.kinds)})`);
  if (work.parentTypes.length) parts.push(sql`coalesce(${sql.ref(`${alias}.parent_type`)} in (${sql.join(work.parentTypes)}), false)`);
  return parts.length ? sql<boolean>`(${sql.join(parts, sql` or `)})` : undefined;
}

/**
 * Completes a held, running job (fenced, `fence.state` must be `running`) and appends its `state`
 * event (`{state: 'succeeded', from: null, attempt, worker_id}`). PostgreSQL: one statement and no
 * transaction (the common, fast case) unless `within` selects the job (its kind or parent type):
 * the statement then leaves the job alone and one write transaction holds the update, the event
 * and `within.run`. SQLite: always one write transaction (a group commit) with `within.run`.
 * @returns the completed row and its event, or undefined when the fence does not hold (lapsed,
 *   paused, finished, another holder). @throws what `within.run` threw (nothing recorded).
 */
export async function completeJob(
  database: WriteDatabase,
  fence: Fence,
  completion: Completion,
  within?: OutcomeWork<InOutcomeTransaction>,
): Promise<JobWithEvent | undefined> {
  const changes = (dialect: DatabaseDialect) => ({
    state: 'succeeded' as const,
    result: completion.result,
    output_files: completion.outputFiles ? JSON.stringify(completion.outputFiles) : outputFilesOfUpdatedJob(dialect),
    progress: 1,
    finished_at: fence.nowIso,
    lease_expires_at: null,
  });
  if (database.dialect === 'postgres') {
    const data = { state: 'succeeded', from: null, attempt: fence.attempt, worker_id: fence.workerId };
    const event = { type: 'state', data: sql`cast(${JSON.stringify(data)} as jsonb)` };
    const watched = within && watchedByHooks('job', within);
    const done = await updateFencedJobWithEventPg(database.db, fence, changes('postgres'), event, watched ? sql`and not ${watched}` : sql``);
    // Done, or the fence failed, or a hook selects the job: only the last needs the transaction
    // (which applies the same fence again, so a failed fence still changes nothing).
    if (done || !within) return done;
  }
  return database.write(async (tx) => {
    const row =
      tx.dialect === 'sqlite'
        ? (await tx.db.executeQuery<JobRow>(CompiledQuery.raw(SQLITE_COMPLETE, sqliteCompleteParameters(fence, completion)))).rows[0]
        : await updateFencedJob(tx.db, fence, changes(tx.dialect));
    if (!row) return undefined;
    const [done] = await withEvents(tx.db, [row], (r) => stateEventData(r, null), fence.nowIso, 'state', tx.dialect);
    await within?.run(tx, done!);
    return done;
  });
}

/**
 * The fenced completion on SQLite, written once (what {@link updateFencedJob} builds with these
 * changes): the outputs are the listed files, else what the worker uploaded for the job.
 */
const SQLITE_COMPLETE = `update job set state = 'succeeded', result = ?,
    output_files = coalesce(?, (select json_group_array(id) from (select f.id from file f where f.job_id = job.id and f.purpose = 'output' order by f.id))),
    progress = 1, finished_at = ?, lease_expires_at = null, event_seq = event_seq + 1, updated_at = ?
  where id = ? and attempt = ? and worker_id = ? and state = 'running' and lease_expires_at > ?
  returning *`;

function sqliteCompleteParameters(fence: Fence, completion: Completion): unknown[] {
  const files = completion.outputFiles ? JSON.stringify(completion.outputFiles) : null;
  return [completion.result, files, fence.nowIso, fence.nowIso, fence.jobId, fence.attempt, fence.workerId, fence.nowIso];
}

/** A job completed by {@link completeJobs}, with its event. */
export interface CompletedJob {
  row: Pick<JobRow, 'id' | 'queue' | 'owner_id' | 'event_seq'>;
  event: JobEventRow;
}

/**
 * Completes many held, running jobs of one worker, each fenced on its own (jobs whose fence fails,
 * or that are paused, are simply not updated), and appends their `state` events. PostgreSQL: ONE
 * statement for the whole batch, unless `within` selects one of its jobs (by kind or parent type):
 * then, as on SQLite, one write transaction for the whole batch, running `within.run` for each
 * completed job (a throw rolls back the whole batch, so a retry of the batch finds every job
 * still held).
 * @returns the completed jobs with their events.
 */
export async function completeJobs(
  database: WriteDatabase,
  workerId: string,
  items: readonly BatchItem[],
  nowIso: string,
  within?: OutcomeWork<(tx: WriteTx, row: JobRow) => Promise<void>>,
): Promise<CompletedJob[]> {
  if (database.dialect === 'postgres') {
    const watched = within && watchedByHooks('w', within);
    // All or nothing: the statement completes no job when a hook selects any job of the batch.
    const also = watched ? sql`and not exists (select 1 from job w join v on w.id = v.id where ${watched})` : sql``;
    const done = await completeJobsPg(database.db, workerId, items, nowIso, also);
    // Done, or every fence failed, or a hook selects a job: only the last needs the transaction
    // (which applies the same fences again).
    if (done.length || !watched) return done;
  }
  return database.write(async (tx) => {
    const rows: JobRow[] = [];
    for (const item of items) {
      const row = await updateFencedJob(
        tx.db,
        { jobId: item.id, attempt: item.attempt, workerId, nowIso, state: 'running' },
        { state: 'succeeded', result: item.result, progress: 1, finished_at: nowIso, lease_expires_at: null, output_files: outputFilesOfUpdatedJob(tx.dialect) },
      );
      if (!row) continue;
      rows.push(row);
      await within?.run(tx, row);
    }
    return rows.length ? withEvents(tx.db, rows, (r) => stateEventData(r, null), nowIso) : [];
  });
}

/**
 * Which of `queues` have queued jobs whose `run_after` lies in `(afterIso, untilIso]`: jobs that
 * became claimable by the passing of time (delays, retry backoff) in that window. Reads the
 * claim index (queued jobs per queue).
 */
export async function findQueuesWithJobsBecomingDue(db: Executor, queues: string[], afterIso: string, untilIso: string): Promise<string[]> {
  if (!queues.length || afterIso >= untilIso) return [];
  const rows = await db
    .selectFrom('job')
    .select('queue')
    .distinct()
    // The literal lets both engines read the claim index (a partial index on queued jobs).
    .where(QUEUED)
    .where('queue', 'in', queues)
    .where('run_after', '>', afterIso)
    .where('run_after', '<=', untilIso)
    .execute();
  return rows.map((r) => r.queue);
}
