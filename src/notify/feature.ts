/** Notifications (`gatehouse notify …`) as a platform feature. */
import { registerNotifyCommands } from '../cli/commands/notify.js';
import { definePlatformFeature } from '../platform/feature.js';

/** The notify feature: its CLI commands. */
export const notifyFeature = definePlatformFeature({
  name: 'notify',
  description: 'Notifications by email, Mattermost and webhook through the outbox.',
  commands: (program) => registerNotifyCommands(program),
});
