/**
 * `/api/v1/auth/*`: registration, verification, login/logout, the OAuth 2.0 token endpoint,
 * sessions and passwords. HTTP only: every decision is made by AccountService / AuthService /
 * SessionService.
 */
import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccountService } from '../accounts/accounts.service.js';
import { toUserView } from '../accounts/accounts.service.js';
import { actorOf } from '../http/actor.js';
import { requirePrincipal } from '../http/authenticate.js';
import { problemFor, toAppError } from '../http/problem.js';
import { AUTHENTICATED, EmailSchema, MessageSchema, NewPasswordSchema, OpaqueTokenSchema, PasswordSchema, problemResponses, UserRef } from '../http/schemas.js';
import type { ClientInfo, SessionService } from '../sessions/sessions.service.js';
import { SessionSchema } from '../sessions/sessions.views.js';
import { AppError } from '../shared/errors.js';
import type { AuthService, TokenResponse } from './auth.service.js';

/** Options for {@link authRoutes}. */
export interface AuthRoutesOptions {
  accounts: AccountService;
  auth: AuthService;
  sessions: SessionService;
  cookieName: string;
  cookieSecure: boolean;
  /**
   * The `authorization_code` grant of social sign-in's API clients (IdentityService.exchangeCode):
   * a one-time code with its PKCE verifier → tokens.
   */
  exchangeCode?: (code: string, codeVerifier: string, redirectUri: string | undefined, client: ClientInfo) => Promise<TokenResponse>;
}

function clientInfo(request: FastifyRequest): ClientInfo {
  const ua = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof ua === 'string' ? ua : null };
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { accounts, auth, sessions, cookieName } = options;

  const setSessionCookie = (reply: FastifyReply, token: string, expiresAt: string): void => {
    reply.setCookie(cookieName, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: options.cookieSecure,
      expires: new Date(expiresAt),
    });
  };

  app.post(
    '/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        description:
          'With email verification on (default) always answers 202 — whether or not the email already has an account — and emails a verification link (or, to an existing owner, a notice). With AUTH_REQUIRE_EMAIL_VERIFICATION=false answers 201 with the user, or 409 when the email is taken.',
        body: Type.Object({
          email: EmailSchema,
          password: NewPasswordSchema,
          name: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 201: Type.Object({ user: UserRef }), 202: MessageSchema, ...problemResponses(400, 409, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      const outcome = await accounts.register(request.body, actorOf(request));
      // The contract's `201 {user}`: the user wrapped in an object, as login's `{user, session}`.
      if (outcome.kind === 'created') return reply.code(201).send({ user: outcome.user });
      return reply.code(202).send({ message: 'Check your inbox: we sent a link to confirm your email address.' });
    },
  );

  app.post(
    '/auth/verify-email',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm an email address with the token from the emailed link',
        body: Type.Object({ token: OpaqueTokenSchema }),
        response: { 204: Type.Null(), ...problemResponses(400) },
      },
    },
    async (request, reply) => {
      await accounts.verifyEmail(request.body.token, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/confirm-email',
    {
      config: { auth: 'optional' },
      schema: {
        tags: ['auth'],
        summary: 'Confirm an email change with the token from the link sent to the new address',
        description:
          'Sets the new address (verified), invalidates every outstanding password-reset and verification link, signs out your other sessions (the signed-in session confirming stays; API keys stay), and sends a notice to the old address. `409 email_taken` when another account took the address meanwhile.',
        body: Type.Object({ token: OpaqueTokenSchema }),
        response: { 204: Type.Null(), ...problemResponses(400, 409) },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      await accounts.confirmEmailChange(
        request.body.token,
        actorOf(request),
        principal ? { userId: principal.user.id, sessionId: principal.session?.id } : undefined,
      );
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/verify-email/resend',
    {
      schema: {
        tags: ['auth'],
        summary: 'Send the verification email again',
        description: 'Always 202 (never reveals whether the email has an account); rate-limited per IP and per email.',
        body: Type.Object({ email: EmailSchema }),
        response: { 202: MessageSchema, ...problemResponses(400, 429) },
      },
    },
    async (request, reply) => {
      await accounts.resendVerification(request.body.email, request.ip);
      return reply.code(202).send({ message: 'If this email has an unverified account, a new link is on its way.' });
    },
  );

  app.post(
    '/auth/login',
    {
      config: { setsSessionCookie: true },
      schema: {
        tags: ['auth'],
        summary: 'Sign in (browser session cookie)',
        body: Type.Object({ email: EmailSchema, password: PasswordSchema }),
        response: {
          200: Type.Object({
            user: UserRef,
            session: Type.Object({ id: Type.String(), expires_at: Type.String({ format: 'date-time' }) }),
          }),
          ...problemResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { user, session, token } = await auth.login(request.body.email, request.body.password, clientInfo(request));
      setSessionCookie(reply, token, session.expires_at);
      return { user: toUserView(user), session: { id: session.id, expires_at: session.expires_at } };
    },
  );

  await app.register(async (scope) => {
    const tokenScope = scope.withTypeProvider<TypeBoxTypeProvider>();
    await tokenScope.register(formbody, { bodyLimit: 16 * 1024 });
    // RFC 6749 §5.2: token endpoint errors are `{error, error_description}`; we add the problem members too.
    tokenScope.setErrorHandler((error, request, reply) => {
      let appError = toAppError(error);
      if (appError.code === 'validation_failed' || appError.code === 'malformed_json') {
        appError = new AppError('invalid_request', appError.detail);
      }
      if (appError.status >= 500) request.log.error({ err: error }, 'token request failed');
      const oauthError = ['invalid_grant', 'unsupported_grant_type', 'invalid_request', 'mfa_required'].includes(appError.code)
        ? appError.code
        : appError.status === 429
          ? 'slow_down'
          : appError.status >= 500
            ? 'server_error'
            : 'invalid_request';
      if (appError.headers) reply.headers(appError.headers);
      return reply
        .code(appError.status)
        .header('Cache-Control', 'no-store')
        .type('application/json')
        .send({ error: oauthError, error_description: appError.detail ?? appError.message, ...problemFor(appError, request.id) });
    });

    tokenScope.post(
      '/auth/token',
      {
        schema: {
          tags: ['auth'],
          summary: 'OAuth 2.0 token endpoint (password, refresh_token and authorization_code grants)',
          description:
            'RFC 6749 §4.3 and §6. Form-encoded or JSON. Returns a short-lived EdDSA access token (JWT) and a refresh token that rotates on every use; re-using a rotated refresh token revokes the whole session. `authorization_code` (RFC 6749 §4.1.3 with PKCE, RFC 7636 §4.5): the one-time `code` a social sign-in by an API client returned to its redirect, with the client’s `code_verifier` (and optionally the same `redirect_uri`).',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: Type.Object(
            {
              grant_type: Type.String({ maxLength: 64 }),
              username: Type.Optional(Type.String({ maxLength: 254 })),
              password: Type.Optional(PasswordSchema),
              refresh_token: Type.Optional(OpaqueTokenSchema),
              code: Type.Optional(OpaqueTokenSchema),
              code_verifier: Type.Optional(Type.String({ maxLength: 128 })),
              redirect_uri: Type.Optional(Type.String({ maxLength: 2048 })),
              scope: Type.Optional(Type.String({ maxLength: 1024 })),
            },
            { additionalProperties: true },
          ),
          response: {
            200: Type.Object({
              access_token: Type.String(),
              token_type: Type.Literal('Bearer'),
              expires_in: Type.Integer({ description: 'seconds' }),
              refresh_token: Type.String(),
            }),
            400: Type.Object({ error: Type.String(), error_description: Type.String() }, { additionalProperties: true }),
          },
        },
      },
      async (request, reply) => {
        reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
        const body = request.body;
        if (body.grant_type === 'password') {
          if (!body.username || !body.password) {
            throw new AppError('invalid_request', 'The password grant needs username and password.');
          }
          return auth.passwordGrant(body.username, body.password, clientInfo(request));
        }
        if (body.grant_type === 'refresh_token') {
          if (!body.refresh_token) throw new AppError('invalid_request', 'The refresh_token grant needs refresh_token.');
          return auth.refreshGrant(body.refresh_token);
        }
        if (body.grant_type === 'authorization_code' && options.exchangeCode) {
          if (!body.code || !body.code_verifier) throw new AppError('invalid_request', 'The authorization_code grant needs code and code_verifier.');
          return options.exchangeCode(body.code, body.code_verifier, body.redirect_uri, clientInfo(request));
        }
        throw new AppError('unsupported_grant_type', `Supported grant types: password, refresh_token${options.exchangeCode ? ', authorization_code' : ''}.`);
      },
    );
  });

  app.post(
    '/auth/logout',
    {
      config: { auth: 'required', allowBeforeMfaEnrollment: true },
      schema: {
        tags: ['auth'],
        summary: 'Sign out (the cookie session, or the session behind the bearer token)',
        security: AUTHENTICATED,
        response: { 204: Type.Null(), ...problemResponses(401, 403) },
      },
    },
    async (request, reply) => {
      await auth.logout(requirePrincipal(request), actorOf(request));
      return reply.code(204).clearCookie(cookieName, { path: '/' }).send(null);
    },
  );

  app.get(
    '/auth/sessions',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['auth'],
        summary: 'Your active sessions',
        security: AUTHENTICATED,
        response: {
          200: Type.Object({
            items: Type.Array(SessionSchema),
          }),
          ...problemResponses(401),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return { items: await sessions.list(principal.user.id, principal.session?.id ?? null) };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke one of your sessions',
        security: AUTHENTICATED,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await sessions.revokeOwn(requirePrincipal(request).user.id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/password/forgot',
    {
      schema: {
        tags: ['auth'],
        summary: 'Email a password reset link',
        description: 'Always 202; the link is single-use and expires after AUTH_RESET_TOKEN_TTL_SECONDS (1 hour).',
        body: Type.Object({ email: EmailSchema }),
        response: { 202: MessageSchema, ...problemResponses(400, 429) },
      },
    },
    async (request, reply) => {
      await accounts.forgotPassword(request.body.email, request.ip);
      return reply.code(202).send({ message: 'If this email has an account, a reset link is on its way.' });
    },
  );

  app.post(
    '/auth/password/reset',
    {
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with the token from the emailed link',
        description: 'Signs you out everywhere and revokes every API key of yours (you are told by email).',
        body: Type.Object({ token: OpaqueTokenSchema, password: NewPasswordSchema }),
        response: { 204: Type.Null(), ...problemResponses(400, 422) },
      },
    },
    async (request, reply) => {
      await accounts.resetPassword(request.body.token, request.body.password, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/password/change',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['auth'],
        summary: 'Change your password',
        description:
          'Revokes your other sessions and tokens (this one stays) and, unless `revoke_api_keys` is false, every API key of yours; sends a notice by email (and one naming the revoked keys). A wrong `current_password` answers `400 invalid_current_password` and counts towards the sign-in lockout (`429 rate_limited` while it lasts, even for the right password).',
        security: AUTHENTICATED,
        body: Type.Object({
          current_password: PasswordSchema,
          new_password: NewPasswordSchema,
          revoke_api_keys: Type.Optional(Type.Boolean({ default: true, description: 'Also revoke every API key of yours (default true)' })),
        }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 422, 429) },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      await accounts.changePassword(
        principal.user,
        principal.session?.id,
        request.body.current_password,
        request.body.new_password,
        actorOf(request),
        { revokeApiKeys: request.body.revoke_api_keys },
      );
      return reply.code(204).send(null);
    },
  );
};
