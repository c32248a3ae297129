/**
 * `/admin/campaigns` (every campaign's progress; create one) and `/admin/campaigns/{id}`
 * (progress, best value over time as a chart, runs by state, per-worker counts, runs), live over
 * `campaign:{id}`.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { useId, useMemo, useState } from 'react';
import { api, type Page as ApiPage } from '../../api/client';
import { useLiveEvents } from '../../api/live';
import { usePermissions } from '../../api/session';
import { Button, Field, Loading, Page, ProblemAlert, Time } from '../../components/ui';
import { LineChart } from '../../components/chart';
import { AdminMenu, Pager, ProgressBar, StateBadge, useCursorPager } from './common';
import { JOB_STATES, LiveBadge } from './jobs';

/** A campaign as `GET /api/v1/campaigns/{id}` answers it (fields shown here). */
interface Campaign {
  id: string;
  name: string;
  kind: string;
  queue: string;
  status: string;
  objective: 'min' | 'max';
  params: Record<string, unknown>;
  runs_requested: number;
  runs_spawned: number;
  runs_completed: number;
  runs_failed: number;
  runs_cancelled: number;
  best_value: number | null;
  best_job_id: string | null;
  error: string | null;
  created_at: string;
  completed_at: string | null;
}

/** `GET /api/v1/campaigns/{id}/stats`. */
interface CampaignStats {
  objective: 'min' | 'max' | null;
  runs: Record<'requested' | 'spawned' | 'queued' | 'running' | 'paused' | 'succeeded' | 'failed' | 'cancelled', number>;
  best_value: number | null;
  best_over_time: Array<{ at: string; value: number; job_id: string }>;
  values: { count: number; min: number | null; max: number | null; mean: number | null };
  run_seconds: { count: number; min: number | null; median: number | null; max: number | null };
  throughput_per_hour: number | null;
  workers: Array<{ worker_id: string | null; worker_name: string | null; succeeded: number; failed: number; cancelled: number }>;
}

interface AllStats {
  items: Array<{ id: string; name: string; kind: string; status: string; objective: string; runs_requested: number; runs_completed: number; runs_failed: number; best_value: number | null }>;
}

interface Run {
  job_id: string;
  run: number | null;
  state: string;
  worker_id: string | null;
  progress: number;
  value: number | null;
  final: boolean;
  started_at: string | null;
  finished_at: string | null;
}

function fmt(value: number | null | undefined, digits = 6): string {
  return value === null || value === undefined ? '—' : Number(value.toPrecision(digits)).toString();
}

export function CampaignsPage() {
  const permissions = usePermissions();
  const all = useQuery({ queryKey: ['campaigns', 'all'], queryFn: () => api<AllStats>('/campaigns/stats'), refetchInterval: 15_000 });
  return (
    <Page title="Campaigns" wide>
      <AdminMenu />
      <ProblemAlert error={all.error} />
      {all.isPending ? <Loading label="Loading campaigns…" /> : null}
      {all.data ? (
        all.data.items.length ? (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Campaigns</caption>
              <thead>
                <tr>
                  <th scope="col">Campaign</th>
                  <th scope="col">Status</th>
                  <th scope="col">Progress</th>
                  <th scope="col" className="num">
                    Failed
                  </th>
                  <th scope="col" className="num">
                    Best value
                  </th>
                </tr>
              </thead>
              <tbody>
                {all.data.items.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <Link to="/admin/campaigns/$id" params={{ id: c.id }}>
                        {c.name}
                      </Link>
                      <br />
                      <span className="small muted">
                        {c.kind}, {c.objective}
                      </span>
                    </td>
                    <td>
                      <StateBadge state={c.status} />
                    </td>
                    <td className="progress-col">
                      <ProgressBar value={c.runs_requested ? c.runs_completed / c.runs_requested : 0} label={`Runs completed of ${c.name}`} />
                      <span className="small muted">
                        {c.runs_completed} of {c.runs_requested} runs
                      </span>
                    </td>
                    <td className="num">{c.runs_failed}</td>
                    <td className="num">{fmt(c.best_value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p>No campaigns yet.</p>
        )
      ) : null}
      {permissions.can('campaigns:manage') ? <NewCampaign /> : null}
    </Page>
  );
}

/** Creates a `channel-moe` campaign (the kind Gatehouse ships) with a generated channel. */
function NewCampaign() {
  const navigate = useNavigate();
  const objectiveId = useId();
  const [form, setForm] = useState({ name: '', runs: '10', d_in: '2', d_out: '2', n_kraus: '2', restarts: '3', max_iterations: '500', objective: 'min' });
  const create = useMutation({
    mutationFn: () =>
      api<Campaign>('/campaigns', {
        body: {
          name: form.name,
          kind: 'channel-moe',
          runs: Number(form.runs),
          objective: form.objective,
          params: { d_in: Number(form.d_in), d_out: Number(form.d_out), n_kraus: Number(form.n_kraus), restarts: Number(form.restarts), max_iterations: Number(form.max_iterations) },
        },
      }),
    onSuccess: (campaign) => navigate({ to: '/admin/campaigns/$id', params: { id: campaign.id } }),
  });
  const error = create.error as { fieldMessage?: (f: string) => string | undefined } | null;
  const number = (name: keyof typeof form, label: string, hint?: string) => (
    <Field label={label} name={name} type="number" min={1} required value={form[name]} hint={hint} error={error?.fieldMessage?.(name) ?? error?.fieldMessage?.(`params/${name}`)} onChange={(event) => setForm({ ...form, [name]: event.target.value })} />
  );
  return (
    <details className="card">
      <summary>New campaign</summary>
      <form
        className="stack"
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate();
        }}
      >
        <ProblemAlert error={create.error} />
        <Field label="Name" name="name" required maxLength={200} value={form.name} onChange={(event) => setForm({ ...form, name: event.target.value })} />
        <div className="filters">
          {number('runs', 'Runs')}
          {number('d_in', 'Input dimension')}
          {number('d_out', 'Output dimension')}
          {number('n_kraus', 'Kraus operators')}
          {number('restarts', 'Restarts per run')}
          {number('max_iterations', 'Iterations per start')}
          <div className="field">
            <label htmlFor={objectiveId}>Objective</label>
            <select id={objectiveId} value={form.objective} onChange={(event) => setForm({ ...form, objective: event.target.value })}>
              <option value="min">min: lowest output entropy</option>
              <option value="max">max: highest output entropy</option>
            </select>
          </div>
        </div>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Create campaign
        </Button>
      </form>
    </details>
  );
}

export function CampaignPage() {
  const { id } = useParams({ strict: false }) as { id: string };
  const client = useQueryClient();
  const permissions = usePermissions();
  const campaign = useQuery({ queryKey: ['campaign', id], queryFn: () => api<Campaign>(`/campaigns/${id}`) });
  const stats = useQuery({ queryKey: ['campaign', id, 'stats'], queryFn: () => api<CampaignStats>(`/campaigns/${id}/stats`) });
  const live = useLiveEvents(
    [`campaign:${id}`],
    () => {
      // Every campaign event changes counters, the best or the status: read them again (bursts coalesce).
      void client.invalidateQueries({ queryKey: ['campaign', id] });
    },
    { enabled: campaign.isSuccess },
  );
  const act = useMutation({
    mutationFn: (action: 'pause' | 'resume' | 'cancel') => api<Campaign>(`/campaigns/${id}/${action}`, { method: 'POST' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['campaign', id] }),
  });
  if (campaign.error) {
    return (
      <Page title="Campaign">
        <AdminMenu />
        <ProblemAlert error={campaign.error} />
      </Page>
    );
  }
  const c = campaign.data;
  if (!c) return <Loading label="Loading the campaign…" />;
  const s = stats.data;
  const manage = permissions.can('campaigns:manage');
  const maxRuns = s ? Math.max(1, ...JOB_STATES.map((state) => (s.runs as Record<string, number>)[state] ?? 0)) : 1;
  return (
    <Page
      title={`Campaign ${c.name}`}
      wide
      actions={
        manage ? (
          <div className="row" role="group" aria-label="Campaign actions">
            {c.status === 'running' ? (
              <Button busy={act.isPending} onClick={() => act.mutate('pause')}>
                Pause
              </Button>
            ) : null}
            {c.status === 'paused' ? (
              <Button busy={act.isPending} onClick={() => act.mutate('resume')}>
                Resume
              </Button>
            ) : null}
            {['generating', 'running', 'paused'].includes(c.status) ? (
              <Button variant="danger" busy={act.isPending} onClick={() => act.mutate('cancel')}>
                Cancel
              </Button>
            ) : null}
          </div>
        ) : null
      }
    >
      <AdminMenu />
      <ProblemAlert error={act.error ?? stats.error} />
      <div className="row section-head">
        <p>
          <StateBadge state={c.status} testId="campaign-status" /> {c.kind}, objective {c.objective}, queue <code>{c.queue}</code>
        </p>
        <LiveBadge status={live} />
      </div>
      {c.error ? <p className="field-error">{c.error}</p> : null}
      <div className="progress-block">
        <ProgressBar value={c.runs_requested ? c.runs_completed / c.runs_requested : 0} label="Runs completed" />
        <p className="muted" data-testid="campaign-counts">
          {c.runs_completed} of {c.runs_requested} runs completed, {c.runs_failed} failed, {c.runs_cancelled} cancelled ({c.runs_spawned} spawned)
        </p>
      </div>
      <dl className="stats">
        <div>
          <dt>Best value</dt>
          <dd className="num" data-testid="best-value">
            {fmt(c.best_value)}
          </dd>
        </div>
        <div>
          <dt>Values (mean)</dt>
          <dd className="num">{fmt(s?.values.mean)}</dd>
        </div>
        <div>
          <dt>Median run time</dt>
          <dd className="num">{s?.run_seconds.median == null ? '—' : `${fmt(s.run_seconds.median, 3)} s`}</dd>
        </div>
        <div>
          <dt>Runs per hour</dt>
          <dd className="num">{fmt(s?.throughput_per_hour, 3)}</dd>
        </div>
      </dl>
      <section aria-labelledby="best-heading">
        <h2 id="best-heading">Best value over time</h2>
        {s ? <BestChart points={s.best_over_time} objective={c.objective} /> : <Loading />}
      </section>
      <div className="two-columns">
        <section aria-labelledby="states-heading">
          <h2 id="states-heading">Runs by state</h2>
          {s ? (
            <ul className="bars" data-testid="runs-by-state">
              {(['queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled'] as const).map((state) => (
                <li key={state}>
                  <span>{state}</span>
                  <span className="bar" style={{ width: `${(100 * s.runs[state]) / maxRuns}%` }} aria-hidden="true" />
                  <span className="num" data-testid={`runs-${state}`}>
                    {s.runs[state]}
                  </span>
                </li>
              ))}
            </ul>
          ) : null}
        </section>
        <section aria-labelledby="workers-heading">
          <h2 id="workers-heading">Runs per worker</h2>
          {s?.workers.length ? (
            <div className="table-wrap">
              <table data-testid="workers">
                <caption className="visually-hidden">Finished runs per worker</caption>
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col" className="num">
                      Succeeded
                    </th>
                    <th scope="col" className="num">
                      Failed
                    </th>
                    <th scope="col" className="num">
                      Cancelled
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {s.workers.map((w) => (
                    <tr key={w.worker_id ?? 'none'}>
                      <td>{w.worker_name ?? w.worker_id ?? '—'}</td>
                      <td className="num">{w.succeeded}</td>
                      <td className="num">{w.failed}</td>
                      <td className="num">{w.cancelled}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p className="muted">No finished runs yet.</p>
          )}
        </section>
      </div>
      <Runs id={id} />
    </Page>
  );
}

/** The campaign's runs, newest first, with a state filter and cursor paging (re-read with the campaign). */
function Runs({ id }: { id: string }) {
  const [state, setState] = useState('');
  const pager = useCursorPager();
  const stateId = useId();
  const runs = useQuery({
    queryKey: ['campaign', id, 'runs', state, pager.cursor],
    queryFn: () => api<ApiPage<Run>>(`/campaigns/${id}/runs`, { query: { state, limit: 20, cursor: pager.cursor } }),
    placeholderData: keepPreviousData,
  });
  return (
    <section aria-labelledby="runs-heading">
      <h2 id="runs-heading">Runs</h2>
      <div className="field inline">
        <label htmlFor={stateId}>Run state</label>
        <select
          id={stateId}
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
      <ProblemAlert error={runs.error} />
      {runs.data ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Runs</caption>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">State</th>
                  <th scope="col">Progress</th>
                  <th scope="col" className="num">
                    Value
                  </th>
                  <th scope="col">Finished</th>
                </tr>
              </thead>
              <tbody>
                {runs.data.items.map((run) => (
                  <tr key={run.job_id}>
                    <td>
                      <Link to="/jobs/$id" params={{ id: run.job_id }}>
                        {run.run === null ? run.job_id.slice(-12) : `#${run.run}`}
                      </Link>
                    </td>
                    <td>
                      <StateBadge state={run.state} />
                    </td>
                    <td className="progress-col">
                      <ProgressBar value={run.progress} label={`Progress of run ${run.run ?? run.job_id.slice(-12)}`} />
                    </td>
                    <td className="num">
                      {fmt(run.value)}
                      {run.value !== null && !run.final ? <span className="small muted"> (so far)</span> : null}
                    </td>
                    <td>
                      <Time iso={run.finished_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {runs.data.items.length === 0 ? <p>No runs{state ? ` in state ${state}` : ''}.</p> : null}
          <Pager pager={pager} nextCursor={runs.data.next_cursor} label="Runs" />
        </>
      ) : (
        <Loading label="Loading runs…" />
      )}
    </section>
  );
}

/** The best value so far as a step line over time (it holds until a run improves on it). */
function BestChart({ points, objective }: { points: Array<{ at: string; value: number }>; objective: string }) {
  const x = useMemo(() => points.map((p) => Date.parse(p.at) / 1000), [points]);
  const series = useMemo(() => [{ label: 'Best value', values: points.map((p) => p.value) }], [points]);
  const latest = points.at(-1);
  return (
    <LineChart
      title={`Best value (${objective}) over time`}
      summary={latest ? `${points.length} improvement${points.length === 1 ? '' : 's'}; the best is ${latest.value}, found ${new Date(latest.at).toLocaleString()}.` : 'No run has finished yet.'}
      x={x}
      time
      stepped
      xLabel="Time"
      series={series}
      formatX={(v) => new Date(v * 1000).toLocaleString()}
      testId="best-chart"
    />
  );
}
