/** Notifications (`gatehouse notify …`) as a platform feature. */
import { registerNotifyCommands } from '../cli/commands/notify.js';
import { definePlatformFeature } from '../platform/feature.js';

/** The notify feature: its routes (`/outbox`) and CLI commands. */
export const notifyFeature = definePlatformFeature({
  name: 'notify',
  description: 'Notifications by email, Mattermost and webhook through the outbox.',
  async routes(api, gatehouse) {
    const { outboxRoutes } = await import('./outbox.routes.js');
    await api.register(outboxRoutes, { outbox: gatehouse.outbox, audit: gatehouse.audit });
  },
  commands: (program) => registerNotifyCommands(program),
});
