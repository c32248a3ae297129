/** API keys, user administration and groups as a platform feature. */
import { registerGroupCommands } from '../cli/commands/groups.js';
import { registerKeyCommands } from '../cli/commands/keys.js';
import { definePlatformFeature } from '../platform/feature.js';

/** The access feature: its routes (`/api-keys`, `/users` administration, `/users/me/permissions`, `/groups`) and CLI commands (`groups`, `keys`). */
export const accessFeature = definePlatformFeature({
  name: 'access',
  description: 'Access control: roles, groups with permissions and policy, API keys with scopes, user administration.',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { adminUsersRoutes } = await import('./admin-users.routes.js');
    const { apiKeysRoutes } = await import('./api-keys.routes.js');
    const { groupsRoutes } = await import('./groups.routes.js');
    const { myAccessRoutes } = await import('./my-access.routes.js');
    await api.register(apiKeysRoutes, { apiKeys: gatehouse.apiKeys, auth: gatehouse.auth });
    await api.register(adminUsersRoutes, { users: gatehouse.users });
    await api.register(groupsRoutes, { access: gatehouse.access });
    await api.register(myAccessRoutes);
  },
  commands(program) {
    registerGroupCommands(program);
    registerKeyCommands(program);
  },
});
