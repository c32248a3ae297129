/**
 * Jobs: a table of jobs with live progress bars (used per queue and for "My jobs"), the job
 * page (`/jobs/{id}`: details, live events, pause/resume/cancel/retry) and "My jobs" (`/jobs`).
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { api, isApiError, type Page as ApiPage } from '../../api/client';
import { type LiveEvent, useLiveEvents } from '../../api/live';
import { useMe } from '../../api/session';
import { Button, Loading, Page, ProblemAlert, Time } from '../../components/ui';
import { Json, Pager, percent, ProgressBar, StateBadge, useCursorPager } from './common';

/** Job states, as the API names them. */
export const JOB_STATES = ['queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled', 'dead'] as const;

/** A job as `GET /api/v1/jobs…` answers it (the fields these pages show). */
export interface Job {
  id: string;
  queue: string;
  kind: string;
  payload: unknown;
  state: string;
  attempt: number;
  failures: number;
  worker_id: string | null;
  progress: number;
  progress_message: string | null;
  metrics: Record<string, number> | null;
  result: unknown;
  error: { message: string; details?: unknown } | null;
  output_files: string[];
  owner_id: string | null;
  created_at: string;
  started_at: string | null;
  heartbeat_at: string | null;
  finished_at: string | null;
}

/** A job event (`state`, `progress` or `log`); `id` is global, `seq` per job. */
export interface JobEvent {
  id: number;
  job_id: string;
  queue: string;
  seq: number;
  type: 'state' | 'progress' | 'log';
  data: Record<string, unknown>;
  created_at: string;
}

function asJobEvent(event: LiveEvent): JobEvent | null {
  return typeof event.job_id === 'string' && typeof event.seq === 'number' && typeof event.type === 'string' ? (event as unknown as JobEvent) : null;
}

/** Applies a live event to a job (state and progress fields); other fields come from re-reading it. */
export function applyJobEvent(job: Job, event: JobEvent): Job {
  const d = event.data;
  if (event.type === 'state' && typeof d.state === 'string') {
    return { ...job, state: d.state, attempt: typeof d.attempt === 'number' ? d.attempt : job.attempt };
  }
  if (event.type === 'progress') {
    return {
      ...job,
      progress: typeof d.progress === 'number' ? d.progress : job.progress,
      progress_message: typeof d.message === 'string' ? d.message : job.progress_message,
      metrics: d.metrics && typeof d.metrics === 'object' ? (d.metrics as Record<string, number>) : job.metrics,
    };
  }
  return job;
}

/** One line for an event, as people read it (`queued → running (attempt 1)`, `25 % — decoding`, log lines). */
export function describeEvent(event: JobEvent): string {
  const d = event.data;
  if (event.type === 'state') {
    let text = `${typeof d.from === 'string' ? `${d.from} → ` : ''}${String(d.state)}`;
    if (d.attempt) text += ` (attempt ${String(d.attempt)})`;
    if (typeof d.reason === 'string') text += `: ${d.reason}`;
    const error = d.error as { message?: string } | undefined;
    if (error?.message) text += ` — ${error.message}`;
    return text;
  }
  if (event.type === 'progress') return `${percent(Number(d.progress ?? 0))}${typeof d.message === 'string' && d.message ? ` — ${d.message}` : ''}`;
  if (event.type === 'log') return Array.isArray(d.lines) ? d.lines.join('\n') : '';
  return JSON.stringify(d);
}

/** Live status as a short text beside a heading. */
export function LiveBadge({ status }: { status: string }) {
  return (
    <span className={`badge live ${status === 'live' ? 'ok' : ''}`} data-testid="live-status">
      {status}
    </span>
  );
}

/**
 * A cursor-paged table of jobs (query: `queue`, `state`, `owner_id`…), with progress bars that
 * follow `liveTopic` (`queue:{name}`) over the WebSocket: progress and states change in place;
 * a job not on the page makes the page re-read.
 */
export function JobTable({ query, liveTopic, label }: { query: Record<string, string | undefined>; liveTopic?: string; label: string }) {
  const client = useQueryClient();
  const [state, setState] = useState('');
  const pager = useCursorPager();
  const key = ['jobs', query, state, pager.cursor];
  const jobs = useQuery({
    queryKey: key,
    queryFn: () => api<ApiPage<Job>>('/jobs', { query: { ...query, state, limit: 25, cursor: pager.cursor } }),
    placeholderData: keepPreviousData,
  });
  const live = useLiveEvents(
    liveTopic ? [liveTopic] : [],
    (raw) => {
      const event = asJobEvent(raw);
      if (!event) return;
      const page = client.getQueryData<ApiPage<Job>>(key);
      const known = page?.items.some((job) => job.id === event.job_id);
      if (!page || !known || (event.type === 'state' && state && event.data.state !== state)) {
        if (event.type === 'state') void client.invalidateQueries({ queryKey: ['jobs'] });
        return;
      }
      client.setQueryData<ApiPage<Job>>(key, { ...page, items: page.items.map((job) => (job.id === event.job_id ? applyJobEvent(job, event) : job)) });
    },
    { enabled: Boolean(liveTopic) && jobs.isSuccess },
  );
  return (
    <section aria-labelledby="jobs-heading">
      <div className="row section-head">
        <h2 id="jobs-heading">{label}</h2>
        {liveTopic ? <LiveBadge status={live} /> : null}
      </div>
      <div className="field inline">
        <label htmlFor="job-state-filter">State</label>
        <select
          id="job-state-filter"
          value={state}
          onChange={(event) => {
            setState(event.target.value);
            pager.reset();
          }}
        >
          <option value="">All states</option>
          {JOB_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <ProblemAlert error={jobs.error} />
      {jobs.isPending ? <Loading label="Loading jobs…" /> : null}
      {jobs.data ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">{label}</caption>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Queue</th>
                  <th scope="col">Kind</th>
                  <th scope="col">State</th>
                  <th scope="col">Progress</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {jobs.data.items.map((job) => (
                  <tr key={job.id} data-job-id={job.id}>
                    <td>
                      <Link to="/jobs/$id" params={{ id: job.id }} className="id">
                        {job.id.slice(-12)}
                      </Link>
                    </td>
                    <td>{job.queue}</td>
                    <td>
                      <code>{job.kind}</code>
                    </td>
                    <td>
                      <StateBadge state={job.state} />
                    </td>
                    <td className="progress-col">
                      <ProgressBar value={job.progress} label={`Progress of job ${job.id.slice(-12)}`} />
                      {job.progress_message ? <span className="small muted">{job.progress_message}</span> : null}
                    </td>
                    <td>
                      <Time iso={job.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {jobs.data.items.length === 0 ? <p>No jobs{state ? ` in state ${state}` : ''}.</p> : null}
          <Pager pager={pager} nextCursor={jobs.data.next_cursor} label={label} />
        </>
      ) : null}
    </section>
  );
}

/** `/jobs`: the signed-in user's own jobs. */
export function MyJobsPage() {
  const me = useMe();
  if (me.data === undefined) return <Loading />;
  if (me.data === null) return <SignedOut />;
  return (
    <Page title="My jobs" wide>
      <JobTable query={{ owner_id: me.data.id }} label="Your jobs, newest first" />
    </Page>
  );
}

function SignedOut() {
  const next = typeof window === 'undefined' ? '/' : window.location.pathname;
  return (
    <Page title="Sign in to continue">
      <p>
        You are not signed in. <a href={`/sign-in?next=${encodeURIComponent(next)}`}>Sign in</a> to see this page.
      </p>
    </Page>
  );
}

const ACTIONS: Array<{ action: 'pause' | 'resume' | 'cancel' | 'retry'; label: string; when: string[] }> = [
  { action: 'pause', label: 'Pause', when: ['queued', 'running'] },
  { action: 'resume', label: 'Resume', when: ['paused'] },
  { action: 'cancel', label: 'Cancel', when: ['queued', 'running', 'paused'] },
  { action: 'retry', label: 'Retry', when: ['failed', 'dead', 'cancelled'] },
];

/** `/jobs/{id}`: one job followed live (state, progress, metrics, result, events) with its controls. */
export function JobPage() {
  const { id } = useParams({ strict: false }) as { id: string };
  const me = useMe();
  const client = useQueryClient();
  const snapshot = useQuery({
    queryKey: ['job', id],
    queryFn: () => api<{ job: Job; events: JobEvent[] }>(`/jobs/${id}`),
    enabled: Boolean(me.data),
  });
  const [liveEvents, setLiveEvents] = useState<JobEvent[]>([]);
  const snapshotEvents = snapshot.data?.events ?? [];
  const snapshotSeq = snapshotEvents.reduce((max, e) => Math.max(max, e.seq), 0);
  const newer = liveEvents.filter((e) => e.seq > snapshotSeq);
  const job = snapshot.data ? newer.reduce(applyJobEvent, snapshot.data.job) : undefined;
  const events = [...snapshotEvents, ...newer].sort((a, b) => a.seq - b.seq);
  const live = useLiveEvents(
    [`job:${id}`],
    (raw) => {
      const event = asJobEvent(raw);
      if (!event || event.job_id !== id) return;
      setLiveEvents((current) => (current.some((e) => e.seq === event.seq) ? current : [...current, event]));
      // A state change also changes the result, error, files and times: read the job again.
      if (event.type === 'state') void client.invalidateQueries({ queryKey: ['job', id] });
    },
    { enabled: snapshot.isSuccess, after: snapshotEvents.reduce((max, e) => Math.max(max, e.id), 0) || null },
  );
  const act = useMutation({
    mutationFn: (action: string) => api<Job>(`/jobs/${id}/${action}`, { method: 'POST' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['job', id] }),
  });

  if (me.data === null) return <SignedOut />;
  if (snapshot.error) {
    return (
      <Page title={isApiError(snapshot.error, 404) ? 'Job not found' : 'Job'}>
        {isApiError(snapshot.error, 404) ? <p>There is no job {id} that you may see.</p> : <ProblemAlert error={snapshot.error} />}
        <p>
          <Link to="/jobs">Back to my jobs</Link>
        </p>
      </Page>
    );
  }
  if (!job) return <Loading label="Loading the job…" />;
  const actions = ACTIONS.filter((a) => a.when.includes(job.state));
  return (
    <Page title={`Job ${job.id.slice(-12)}`} wide>
      <dl className="fields">
        <dt>Id</dt>
        <dd className="id">{job.id}</dd>
        <dt>Queue</dt>
        <dd data-testid="job-queue">{job.queue}</dd>
        <dt>Kind</dt>
        <dd data-testid="job-kind">{job.kind}</dd>
        <dt>State</dt>
        <dd>
          <StateBadge state={job.state} testId="job-state" />
        </dd>
        <dt>Attempt</dt>
        <dd data-testid="job-attempt">{job.attempt}</dd>
        <dt>Created</dt>
        <dd>
          <Time iso={job.created_at} />
        </dd>
        <dt>Started</dt>
        <dd data-testid="job-started">
          <Time iso={job.started_at} />
        </dd>
        <dt>Last heartbeat</dt>
        <dd>
          <Time iso={job.heartbeat_at} />
        </dd>
        <dt>Finished</dt>
        <dd data-testid="job-finished">
          <Time iso={job.finished_at} />
        </dd>
      </dl>
      <div className="progress-block">
        <ProgressBar value={job.progress} label="Progress" />
        <p data-testid="job-progress-message" className="muted">
          {job.progress_message ?? ''}
        </p>
      </div>
      {actions.length ? (
        <div className="row actions" role="group" aria-label="Job actions">
          {actions.map((a) => (
            <Button key={a.action} variant={a.action === 'cancel' ? 'danger' : 'plain'} busy={act.isPending && act.variables === a.action} onClick={() => act.mutate(a.action)}>
              {a.label}
            </Button>
          ))}
        </div>
      ) : null}
      <ProblemAlert error={act.error} />
      {job.metrics && Object.keys(job.metrics).length ? (
        <section aria-labelledby="metrics-heading">
          <h2 id="metrics-heading">Metrics</h2>
          <dl className="fields" data-testid="job-metrics">
            {Object.entries(job.metrics).map(([name, value]) => (
              <div key={name} className="contents">
                <dt>{name}</dt>
                <dd className="num">{value}</dd>
              </div>
            ))}
          </dl>
        </section>
      ) : null}
      {job.result !== null && job.result !== undefined ? (
        <section aria-labelledby="result-heading">
          <h2 id="result-heading">Result</h2>
          <Json value={job.result} label="Result" testId="job-result" />
        </section>
      ) : null}
      {job.error ? (
        <section aria-labelledby="error-heading">
          <h2 id="error-heading">Error</h2>
          <Json value={job.error} label="Error" testId="job-error" />
        </section>
      ) : null}
      {job.output_files.length ? (
        <section aria-labelledby="files-heading">
          <h2 id="files-heading">Output files</h2>
          <ul className="links">
            {job.output_files.map((file) => (
              <li key={file}>
                <a href={`/api/v1/files/${file}`}>{file}</a>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <div className="row section-head">
        <h2 id="events-heading">Events</h2>
        <LiveBadge status={live} />
      </div>
      <ol className="events" aria-labelledby="events-heading" data-testid="job-events">
        {events.map((event) => (
          <li key={event.seq} className={`event event-${event.type}`}>
            <Time iso={event.created_at} /> <span className="event-type">{event.type}</span> <span className="event-text">{describeEvent(event)}</span>
          </li>
        ))}
      </ol>
    </Page>
  );
}
