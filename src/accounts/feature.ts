/** The signed-in user's own account (`/api/v1/users/me…`) and `gatehouse users …` as a platform feature. */
import { registerUserCommands } from '../cli/commands/users.js';
import { definePlatformFeature } from '../platform/feature.js';
import { usersRoutes } from './users.routes.js';

/** The accounts feature: its routes and CLI commands. */
export const accountsFeature = definePlatformFeature({
  name: 'accounts',
  description: 'Accounts: profile, password, email change, verification, deletion.',
  async routes(api, gatehouse) {
    await api.register(usersRoutes, { accounts: gatehouse.accounts, cookieName: gatehouse.config.auth.cookieName });
  },
  commands: (program) => registerUserCommands(program),
});
