/** `/api/v1/scheduled-tasks`: scheduled tasks for operators (list, run now). HTTP only; logic in Scheduler. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../audit/audit.service.js';
import { actorOf } from '../http/actor.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import type { Scheduler } from './scheduler.service.js';

/** Options for {@link schedulerRoutes}. */
export interface SchedulerRoutesOptions {
  scheduler: Scheduler;
  /** Records `scheduled_task.run` for each run started over HTTP. */
  audit: AuditLog;
}

const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Outcome = Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('skipped')]);
const Detail = Type.Record(Type.String(), Type.Unknown());

/** `ScheduledTask` component: {@link import('./scheduler.service.js').TaskStatus}. */
export const ScheduledTaskSchema = Type.Object(
  {
    task: Type.String(),
    description: Type.String(),
    schedule: Type.String({ description: 'Cron expression (5 fields, UTC), or `off`' }),
    enabled: Type.Boolean(),
    next_run_at: Nullable(DateTime),
    last_run_at: Nullable(DateTime),
    last_outcome: Nullable(Type.Union([Outcome, Type.Literal('running')])),
    last_detail: Nullable(Detail),
    running_on: Nullable(Type.String({ description: 'Instance running it now' })),
  },
  { $id: 'ScheduledTask' },
);

/** `TaskRun` component: one finished run. */
export const TaskRunSchema = Type.Object(
  {
    id: Type.String(),
    task: Type.String(),
    trigger: Type.Union([Type.Literal('schedule'), Type.Literal('manual')]),
    outcome: Outcome,
    started_at: DateTime,
    finished_at: DateTime,
    detail: Detail,
  },
  { $id: 'TaskRun' },
);

/** Registers `GET /scheduled-tasks` and `POST /scheduled-tasks/{name}/run` (mount under `/api/v1`), both `scheduler:manage`. */
export const schedulerRoutes: FastifyPluginAsyncTypebox<SchedulerRoutesOptions> = async (app, { scheduler, audit }) => {
  app.addSchema(ScheduledTaskSchema);
  app.addSchema(TaskRunSchema);

  app.get(
    '/scheduled-tasks',
    {
      config: { permission: 'scheduler:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Scheduled tasks with their schedule, next run and latest run',
        security: AUTHENTICATED,
        response: { 200: Type.Object({ items: Type.Array(Type.Ref('ScheduledTask')) }), ...problemResponses(401, 403) },
      },
    },
    async () => ({ items: await scheduler.list() }),
  );

  app.post(
    '/scheduled-tasks/:name/run',
    {
      config: { permission: 'scheduler:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Run a task now, whatever its schedule; answers when the run has finished',
        description: 'Recorded like a scheduled run (trigger `manual`) and in the audit log (`scheduled_task.run`). `409 conflict` while a run of it is in progress on any instance.',
        security: AUTHENTICATED,
        params: Type.Object({ name: Type.String({ maxLength: 100 }) }),
        response: { 200: Type.Ref('TaskRun'), ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const run = await scheduler.runNow(request.params.name);
      await audit.recordNow(actorOf(request), { action: 'scheduled_task.run', targetType: 'scheduled_task', targetId: run.task, details: { run_id: run.id, outcome: run.outcome } });
      return run;
    },
  );
};
