/** The scheduler (`gatehouse schedule …`) as a platform feature. */
import { registerScheduleCommands } from '../cli/commands/schedule.js';
import { definePlatformFeature } from '../platform/feature.js';

/** The scheduler feature: its CLI commands. */
export const schedulerFeature = definePlatformFeature({
  name: 'scheduler',
  description: 'Scheduled tasks, run once per due time across instances.',
  commands: (program) => registerScheduleCommands(program),
});
