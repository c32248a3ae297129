/** The signed-in user's own account (`/api/v1/users/me…`) and `gatehouse users …` as a platform feature. */
import { registerUserCommands } from '../cli/commands/users.js';
import { definePlatformFeature } from '../platform/feature.js';

/** The accounts feature: its routes and CLI commands. */
export const accountsFeature = definePlatformFeature({
  name: 'accounts',
  description: 'Accounts: profile, password, email change, verification, deletion.',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { usersRoutes } = await import('./users.routes.js');
    const { AccountExportService } = await import('./account-export.service.js');
    const accountExport = new AccountExportService({
      clock: gatehouse.clock,
      sessions: gatehouse.sessions,
      apiKeys: gatehouse.apiKeys,
      identities: gatehouse.identities,
      mfa: gatehouse.mfa,
      audit: gatehouse.audit,
    });
    await api.register(usersRoutes, { accounts: gatehouse.accounts, accountExport, cookieName: gatehouse.config.auth.cookieName });
  },
  commands: (program) => registerUserCommands(program),
});
