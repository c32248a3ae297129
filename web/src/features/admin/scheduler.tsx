/** `/admin/scheduled-tasks`: the scheduler's tasks with their last and next run; "Run now". */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import { Button, Loading, Notice, Page, ProblemAlert, Time } from '../../components/ui';
import { AdminMenu, StateBadge } from './common';

/** `GET /api/v1/scheduled-tasks` items. */
interface ScheduledTask {
  task: string;
  description: string;
  schedule: string;
  enabled: boolean;
  next_run_at: string | null;
  last_run_at: string | null;
  last_outcome: 'success' | 'failure' | 'skipped' | 'running' | null;
  last_detail: Record<string, unknown> | null;
  running_on: string | null;
}

/** `POST /api/v1/scheduled-tasks/{name}/run`. */
interface TaskRun {
  task: string;
  outcome: 'success' | 'failure' | 'skipped';
  started_at: string;
  finished_at: string;
  detail: Record<string, unknown>;
}

function summary(detail: Record<string, unknown> | null): string {
  if (!detail || !Object.keys(detail).length) return '';
  return Object.entries(detail)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}

export function ScheduledTasksPage() {
  const client = useQueryClient();
  const [result, setResult] = useState<TaskRun | null>(null);
  const tasks = useQuery({ queryKey: ['scheduled-tasks'], queryFn: () => api<{ items: ScheduledTask[] }>('/scheduled-tasks') });
  const run = useMutation({
    mutationFn: (task: string) => api<TaskRun>(`/scheduled-tasks/${encodeURIComponent(task)}/run`, { method: 'POST' }),
    onSuccess: async (report) => {
      setResult(report);
      await client.invalidateQueries({ queryKey: ['scheduled-tasks'] });
    },
  });
  return (
    <Page title="Scheduled tasks" wide>
      <AdminMenu />
      {result ? (
        <Notice>
          {result.task} ran: {result.outcome}
          {summary(result.detail) ? ` (${summary(result.detail)})` : ''}.
        </Notice>
      ) : null}
      <ProblemAlert error={tasks.error ?? run.error} />
      {tasks.isPending ? <Loading label="Loading scheduled tasks…" /> : null}
      {tasks.data ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Scheduled tasks</caption>
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Schedule (UTC)</th>
                <th scope="col">Last run</th>
                <th scope="col">Next run</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {tasks.data.items.map((task) => (
                <tr key={task.task} data-task={task.task}>
                  <td>
                    <strong>{task.task}</strong>
                    <p className="small muted">{task.description}</p>
                  </td>
                  <td>
                    <code>{task.enabled ? task.schedule : 'off'}</code>
                  </td>
                  <td>
                    {task.last_outcome ? <StateBadge state={task.last_outcome} testId={`outcome-${task.task}`} /> : <span className="muted">never</span>} <Time iso={task.last_run_at} />
                    {task.last_detail && summary(task.last_detail) ? <p className="small muted">{summary(task.last_detail)}</p> : null}
                    {task.running_on ? <p className="small">running on {task.running_on}</p> : null}
                  </td>
                  <td>{task.enabled ? <Time iso={task.next_run_at} /> : <span className="muted">disabled</span>}</td>
                  <td>
                    <Button busy={run.isPending && run.variables === task.task} disabled={Boolean(task.running_on)} onClick={() => run.mutate(task.task)} aria-label={`Run ${task.task} now`}>
                      Run now
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}
