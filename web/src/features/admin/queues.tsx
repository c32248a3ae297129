/** `/admin/queues` (every queue with its counts; pause/resume) and `/admin/queues/{name}` (one queue's jobs, live). */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { api } from '../../api/client';
import { useLiveEvents } from '../../api/live';
import { usePermissions } from '../../api/session';
import { Button, Loading, Page, ProblemAlert } from '../../components/ui';
import { AdminMenu, StateBadge } from './common';
import { JOB_STATES, JobTable } from './jobs';

/** `GET /api/v1/queues/{name}/stats`. */
interface QueueStats {
  queue: string;
  paused: boolean;
  counts: Record<string, number>;
  succeeded_last_hour: number;
  failed_last_hour: number;
  mean_duration_ms: number | null;
  p95_duration_ms: number | null;
  oldest_queued_age_s: number | null;
  active_workers: number;
}

interface Queue {
  name: string;
  description: string;
  paused: boolean;
}

/** Pause/resume of a queue, refreshing every queue query afterwards. */
function useQueueToggle() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ name, pause }: { name: string; pause: boolean }) => api<Queue>(`/queues/${encodeURIComponent(name)}/${pause ? 'pause' : 'resume'}`, { method: 'POST' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['queues'] }),
  });
}

function seconds(value: number | null): string {
  return value === null ? '—' : `${Math.round(value)} s`;
}

export function QueuesPage() {
  const stats = useQuery({ queryKey: ['queues', 'stats'], queryFn: () => api<{ queues: QueueStats[] }>('/stats'), refetchInterval: 10_000 });
  const toggle = useQueueToggle();
  return (
    <Page title="Queues and jobs" wide>
      <AdminMenu />
      <ProblemAlert error={stats.error ?? toggle.error} />
      {stats.isPending ? <Loading label="Loading queues…" /> : null}
      {stats.data ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Queues</caption>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Status</th>
                {JOB_STATES.map((s) => (
                  <th scope="col" key={s} className="num">
                    {s}
                  </th>
                ))}
                <th scope="col" className="num">
                  Workers
                </th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {stats.data.queues.map((q) => (
                <tr key={q.queue}>
                  <td>
                    <Link to="/admin/queues/$name" params={{ name: q.queue }}>
                      {q.queue}
                    </Link>
                  </td>
                  <td>
                    <StateBadge state={q.paused ? 'paused' : 'active'} testId={`queue-status-${q.queue}`} />
                  </td>
                  {JOB_STATES.map((s) => (
                    <td key={s} className="num">
                      {q.counts[s] ?? 0}
                    </td>
                  ))}
                  <td className="num">{q.active_workers}</td>
                  <td>
                    <Button busy={toggle.isPending && toggle.variables?.name === q.queue} onClick={() => toggle.mutate({ name: q.queue, pause: !q.paused })} aria-label={`${q.paused ? 'Resume' : 'Pause'} queue ${q.queue}`}>
                      {q.paused ? 'Resume' : 'Pause'}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {stats.data?.queues.length === 0 ? <p>No queues yet.</p> : null}
    </Page>
  );
}

export function QueuePage() {
  const { name } = useParams({ strict: false }) as { name: string };
  const client = useQueryClient();
  const permissions = usePermissions();
  const stats = useQuery({ queryKey: ['queues', 'stats', name], queryFn: () => api<QueueStats>(`/queues/${encodeURIComponent(name)}/stats`) });
  const toggle = useQueueToggle();
  // Counts change with every state change: re-read them (queries coalesce bursts).
  useLiveEvents(
    [`queue:${name}`],
    (event) => {
      if (event.type === 'state') void client.invalidateQueries({ queryKey: ['queues', 'stats', name] });
    },
    { enabled: stats.isSuccess },
  );
  const canAllJobs = permissions.can('jobs:manage');
  return (
    <Page
      title={`Queue ${name}`}
      wide
      actions={
        stats.data ? (
          <Button variant={stats.data.paused ? 'primary' : 'plain'} busy={toggle.isPending} onClick={() => toggle.mutate({ name, pause: !stats.data.paused })}>
            {stats.data.paused ? 'Resume queue' : 'Pause queue'}
          </Button>
        ) : null
      }
    >
      <AdminMenu />
      <ProblemAlert error={stats.error ?? toggle.error} />
      {stats.data ? (
        <dl className="stats">
          <div>
            <dt>Status</dt>
            <dd>
              <StateBadge state={stats.data.paused ? 'paused' : 'active'} testId="queue-status" />
            </dd>
          </div>
          {JOB_STATES.map((s) => (
            <div key={s}>
              <dt>{s}</dt>
              <dd className="num" data-testid={`count-${s}`}>
                {stats.data.counts[s] ?? 0}
              </dd>
            </div>
          ))}
          <div>
            <dt>Succeeded last hour</dt>
            <dd className="num">{stats.data.succeeded_last_hour}</dd>
          </div>
          <div>
            <dt>Failed last hour</dt>
            <dd className="num">{stats.data.failed_last_hour}</dd>
          </div>
          <div>
            <dt>Oldest queued</dt>
            <dd className="num">{seconds(stats.data.oldest_queued_age_s)}</dd>
          </div>
          <div>
            <dt>Active workers</dt>
            <dd className="num">{stats.data.active_workers}</dd>
          </div>
        </dl>
      ) : (
        <Loading label="Loading the queue…" />
      )}
      {canAllJobs ? <JobTable query={{ queue: name }} liveTopic={`queue:${name}`} label={`Jobs in ${name}`} /> : null}
    </Page>
  );
}
