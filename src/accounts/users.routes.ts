/** `/api/v1/users/me`: the signed-in user's own account. HTTP only; logic lives in AccountService. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../http/actor.js';
import { requirePrincipal } from '../http/authenticate.js';
import { AUTHENTICATED, EmailSchema, MessageSchema, PasswordSchema, problemResponses, UserRef } from '../http/schemas.js';
import { FRESH_SIGN_IN_SECONDS } from '../auth/auth.service.js';
import type { AccountExportService } from './account-export.service.js';
import type { AccountService } from './accounts.service.js';
import { toUserView } from './accounts.service.js';

/** Options for {@link usersRoutes}. */
export interface UsersRoutesOptions {
  accounts: AccountService;
  /** Builds `GET /users/me/export` ("download my data"). */
  accountExport: AccountExportService;
  /** Name of the session cookie, cleared on deactivation. */
  cookieName: string;
}

export const usersRoutes: FastifyPluginAsyncTypebox<UsersRoutesOptions> = async (app, { accounts, accountExport, cookieName }) => {
  app.get(
    '/users/me',
    {
      config: { permission: 'account:self', allowBeforeMfaEnrollment: true },
      schema: {
        tags: ['users'],
        summary: 'The signed-in user',
        security: AUTHENTICATED,
        response: { 200: UserRef, ...problemResponses(401) },
      },
    },
    async (request) => toUserView(requirePrincipal(request).user),
  );

  app.patch(
    '/users/me',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['users'],
        summary: 'Update your name and/or profile',
        description: 'The profile is a JSON object (at most 16 KiB serialised) and replaces the stored one whole.',
        security: AUTHENTICATED,
        body: Type.Object({
          name: Type.Optional(Type.String({ maxLength: 200 })),
          profile: Type.Optional(Type.Object({}, { additionalProperties: true })),
        }),
        response: { 200: UserRef, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => accounts.updateProfile(requirePrincipal(request).user.id, request.body),
  );

  app.post(
    '/users/me/email',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['users'],
        summary: 'Change your email address',
        description:
          'Requires your password (`400 invalid_current_password` when wrong; wrong passwords count towards the sign-in lockout, `429 rate_limited` while it lasts). Emails a single-use confirmation link `PUBLIC_URL/confirm-email?token=…` to the new address (lifetime AUTH_VERIFY_TOKEN_TTL_SECONDS); the address changes only when the link is confirmed. Always 202 — also when the new address already has an account, in which case nothing is sent.',
        security: AUTHENTICATED,
        body: Type.Object({ new_email: EmailSchema, password: PasswordSchema }),
        response: { 202: MessageSchema, ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      await accounts.requestEmailChange(requirePrincipal(request).user.id, request.body.new_email, request.body.password, actorOf(request));
      return reply.code(202).send({ message: 'Check the inbox of the new address: we sent a link to confirm it.' });
    },
  );

  app.get(
    '/users/me/export',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['users'],
        summary: 'Download your data (a JSON attachment)',
        description:
          'Everything kept about you, as one JSON document (`format: "gatehouse.account-export/1"`): your account and profile, sessions, API keys (also revoked ones), linked provider accounts, two-factor status, passkeys, and your own actions from the audit log. Never secrets (no password hash, TOTP secret, key or token hashes, recovery codes). Sent with `Content-Disposition: attachment` and `Cache-Control: no-store`.',
        security: AUTHENTICATED,
        response: {
          200: Type.Object(
            {
              format: Type.Literal('gatehouse.account-export/1'),
              exported_at: Type.String({ format: 'date-time' }),
              user: UserRef,
            },
            { additionalProperties: true, description: 'Also `sessions`, `api_keys`, `identities`, `two_factor`, `passkeys`, `activity` (arrays and objects as the matching endpoints show them).' },
          ),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const document = await accountExport.export(principal.user, principal.session?.id ?? null);
      const day = document.exported_at.slice(0, 10);
      return reply
        .header('Cache-Control', 'no-store')
        .header('Content-Disposition', `attachment; filename="account-export-${day}.json"`)
        .send(document);
    },
  );

  app.delete(
    '/users/me',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['users'],
        summary: 'Deactivate your account',
        description: `Revokes every session, token and API key and sends a notice by email. Send your current \`password\` (wrong: \`400 invalid_current_password\`; wrong passwords count towards the sign-in lockout, \`429 rate_limited\` while it lasts). It may be omitted from a browser session that signed in within the last ${FRESH_SIGN_IN_SECONDS / 60} minutes: that is how an account without a password (\`has_password: false\`, made by a provider or passkey sign-in) deletes itself (the body may then be \`{}\` or left out). Omitted otherwise, or with an access token or API key: \`403 reauthentication_required\` (sign in again, then delete).`,
        security: AUTHENTICATED,
        body: Type.Object({ password: Type.Optional(PasswordSchema) }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 429) },
      },
      // With `password` optional, a DELETE without a body (the usual form) means `{}`.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      await accounts.deactivateSelf(requirePrincipal(request), request.body.password, actorOf(request));
      return reply.code(204).clearCookie(cookieName, { path: '/' }).send(null);
    },
  );
};
