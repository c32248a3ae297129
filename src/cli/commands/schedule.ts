/** `gatehouse schedule list` and `gatehouse schedule run TASK`: the scheduler from a terminal. */
import type { Command } from 'commander';
import { withGatehouse } from '../context.js';
import { ExitCode, ExitError, renderTable } from '../output.js';

function failureMessage(task: string, detail: Record<string, unknown>): string {
  return `error: task ${task} failed: ${typeof detail.error === 'string' ? detail.error : JSON.stringify(detail)}`;
}

/**
 * Registers `schedule list [--json]` (table: TASK, SCHEDULE, ENABLED, LAST RUN, OUTCOME, NEXT
 * RUN; times in UTC) and `schedule run TASK [--json]` (runs it now, recorded like a scheduled run;
 * exit 1 when it fails, 2 for an unknown task or one already running elsewhere) on `program`.
 */
export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('Scheduled housekeeping tasks (cron schedules from SCHEDULE_* variables).');

  schedule
    .command('list')
    .description('List the tasks with their schedule, latest run and next run.')
    .option('--json', 'print JSON instead of a table', false)
    .action(async (opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const tasks = await gatehouse.scheduler.list();
        if (opts.json) return console.log(JSON.stringify({ items: tasks }, null, 2));
        console.log(
          renderTable(
            tasks.map((t) => ({ ...t, outcome: t.running_on ? `running (${t.running_on})` : t.last_outcome })),
            [
              ['TASK', 'task'],
              ['SCHEDULE', 'schedule'],
              ['ENABLED', 'enabled'],
              ['LAST RUN', 'last_run_at'],
              ['OUTCOME', 'outcome'],
              ['NEXT RUN', 'next_run_at'],
            ],
          ),
        );
      });
    });

  schedule
    .command('run <task>')
    .description('Run one task now, whatever its schedule (recorded in the task history).')
    .option('--json', 'print the run as JSON', false)
    .action(async (task: string, opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const run = await gatehouse.scheduler.runNow(task);
        if (opts.json) console.log(JSON.stringify(run, null, 2));
        else console.log(`${run.task}: ${run.outcome} ${JSON.stringify(run.detail)}`);
        if (run.outcome === 'failure') throw new ExitError(ExitCode.failure, failureMessage(run.task, run.detail));
      });
    });
}
