/** The scheduler (`gatehouse schedule …`) as a platform feature. */
import { registerScheduleCommands } from '../cli/commands/schedule.js';
import { definePlatformFeature } from '../platform/feature.js';

/** The scheduler feature: its routes (`/scheduled-tasks`) and CLI commands. */
export const schedulerFeature = definePlatformFeature({
  name: 'scheduler',
  description: 'Scheduled tasks, run once per due time across instances.',
  async routes(api, gatehouse) {
    const { schedulerRoutes } = await import('./scheduler.routes.js');
    await api.register(schedulerRoutes, { scheduler: gatehouse.scheduler, audit: gatehouse.audit });
  },
  commands: (program) => registerScheduleCommands(program),
});
