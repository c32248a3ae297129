/**
 * Two-factor authentication (TOTP, recovery codes) and passkeys as a platform feature: its routes
 * (`/api/v1/users/me/mfa…`, `/api/v1/users/me/passkeys…`, `/api/v1/auth/mfa`,
 * `/api/v1/auth/passkey…`) and the CLI command `gatehouse users reset-mfa`. Its service
 * (`gatehouse.mfa`), migration (`0011-mfa`), error codes and notification (`user.mfa_changed`)
 * are the platform's.
 */
import type { Command } from 'commander';
import { CLI_ACTOR } from '../cli/context.js';
import { definePlatformFeature } from '../platform/feature.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The mfa feature. */
export const mfaFeature = definePlatformFeature({
  name: 'mfa',
  description: 'Two-factor authentication (TOTP with recovery codes, group requirement, admin reset) and passkeys (WebAuthn).',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { mfaRoutes } = await import('./mfa.routes.js');
    await api.register(mfaRoutes, {
      mfa: gatehouse.mfa,
      auth: gatehouse.auth,
      cookieName: gatehouse.config.auth.cookieName,
      cookieSecure: gatehouse.config.auth.cookieSecure,
    });
  },
  commands(program, open) {
    // `users` is registered by the accounts feature before this one; fall back to a group of our own.
    const users: Command = program.commands.find((c) => c.name() === 'users') ?? program.command('users');
    users
      .command('reset-mfa <user>')
      .description("Remove a user's two-factor authentication (TOTP and recovery codes; with --passkeys their passkeys too). Audit-logged; the user is told by email.")
      .option('--passkeys', 'also remove every passkey of the user', false)
      .option('--json', 'print the outcome as JSON', false)
      .action(async (emailOrId: string, opts: { passkeys: boolean; json: boolean }) => {
        await open(async (gatehouse) => {
          const found = UUID.test(emailOrId) ? await gatehouse.users.get(emailOrId.toLowerCase()) : await gatehouse.users.getByEmail(emailOrId);
          const outcome = await gatehouse.mfa.reset(found.id, { passkeys: opts.passkeys }, CLI_ACTOR);
          if (opts.json) console.log(JSON.stringify({ user: found.email, ...outcome }, null, 2));
          else {
            const parts = [outcome.totp_removed ? 'TOTP and recovery codes removed' : 'no TOTP was set up'];
            if (opts.passkeys) parts.push(`${outcome.passkeys_removed} passkey(s) removed`);
            console.log(`Reset two-factor authentication of ${found.email}: ${parts.join('; ')}.`);
          }
        });
      });
  },
});
