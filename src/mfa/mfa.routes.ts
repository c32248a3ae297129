/**
 * Two-factor authentication and passkeys over HTTP: `/api/v1/users/me/mfa…` (TOTP enrolment,
 * recovery codes, turning it off), `/api/v1/users/me/passkeys…` (register, list, rename, remove),
 * `POST /api/v1/auth/mfa` (finish a sign-in that answered `401 mfa_required`) and
 * `/api/v1/auth/passkey…` (sign in with a passkey, no password). HTTP only: decisions are made by
 * MfaService and AuthService.completeSignIn.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toUserView } from '../accounts/accounts.service.js';
import type { AuthService, SignInResult } from '../auth/auth.service.js';
import { actorOf } from '../http/actor.js';
import { requirePrincipal } from '../http/authenticate.js';
import { AUTHENTICATED, OpaqueTokenSchema, PasswordSchema, problemResponses, UserRef } from '../http/schemas.js';
import type { ClientInfo } from '../sessions/sessions.service.js';
import type { MfaService } from './mfa.service.js';
import { PasskeySchema } from './mfa.views.js';

/** Options for {@link mfaRoutes}. */
export interface MfaRoutesOptions {
  mfa: MfaService;
  auth: AuthService;
  cookieName: string;
  cookieSecure: boolean;
}

function clientInfo(request: FastifyRequest): ClientInfo {
  const ua = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof ua === 'string' ? ua : null };
}

const CodeSchema = Type.String({ minLength: 1, maxLength: 16, description: 'The 6-digit code from the authenticator app' });
const RecoveryCodeSchema = Type.String({ minLength: 1, maxLength: 64, description: 'One of the recovery codes shown at enrolment (single use)' });
const RecoveryCodes = Type.Object({
  recovery_codes: Type.Array(Type.String(), { description: 'Ten single-use recovery codes, shown this once: store them safely' }),
});
const WebAuthnOptions = Type.Object({}, { additionalProperties: true, description: 'PublicKeyCredential options (JSON form, base64url binary fields) for navigator.credentials' });
const WebAuthnResponse = Type.Object(
  {
    id: Type.String({ maxLength: 1024 }),
    rawId: Type.String({ maxLength: 1024 }),
    type: Type.String({ maxLength: 32 }),
    response: Type.Object({ clientDataJSON: Type.String({ maxLength: 8192 }) }, { additionalProperties: true }),
  },
  { additionalProperties: true, description: 'The PublicKeyCredential as JSON (base64url binary fields), as `PublicKeyCredential.toJSON()` gives it' },
);
const SignInResponse = Type.Object(
  {
    user: Type.Optional(UserRef),
    session: Type.Optional(Type.Object({ id: Type.String(), expires_at: Type.String({ format: 'date-time' }) })),
    access_token: Type.Optional(Type.String()),
    token_type: Type.Optional(Type.Literal('Bearer')),
    expires_in: Type.Optional(Type.Integer({ description: 'seconds' })),
    refresh_token: Type.Optional(Type.String()),
  },
  { description: 'What the primary sign-in would have given: `{user, session}` and the session cookie (browser sign-in), or an RFC 6749 token response (`/auth/token` sign-in, or `flow: "token"`).' },
);

export const mfaRoutes: FastifyPluginAsyncTypebox<MfaRoutesOptions> = async (app, options) => {
  const { mfa, auth, cookieName } = options;
  const self = { permission: 'account:self' } as const;
  const enrolment = { permission: 'account:self', allowBeforeMfaEnrollment: true } as const;

  /** Sends what a completed sign-in issued: the cookie and `{user, session}`, or a token response. */
  const sendSignIn = (reply: FastifyReply, result: SignInResult) => {
    if (result.flow === 'api') return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(result.tokens);
    reply.setCookie(cookieName, result.token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: options.cookieSecure,
      expires: new Date(result.session.expires_at),
    });
    return reply.send({ user: toUserView(result.user), session: { id: result.session.id, expires_at: result.session.expires_at } });
  };

  app.get(
    '/users/me/mfa',
    {
      config: enrolment,
      schema: {
        tags: ['mfa'],
        summary: 'Your second factors',
        security: AUTHENTICATED,
        response: {
          200: Type.Object({
            totp_enabled: Type.Boolean(),
            totp_enabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
            recovery_codes_remaining: Type.Integer(),
            passkeys: Type.Integer(),
            required: Type.Boolean({ description: 'A group of yours requires TOTP (`require_mfa`)' }),
          }),
          ...problemResponses(401),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return mfa.status(principal.user, principal.access.requireMfa);
    },
  );

  app.post(
    '/users/me/mfa/totp',
    {
      config: enrolment,
      schema: {
        tags: ['mfa'],
        summary: 'Start TOTP enrolment',
        description:
          'Returns a new secret, its `otpauth://` URI and a QR code (SVG) of it, shown this once: the secret is never returned again. Confirm with a code at `/users/me/mfa/totp/confirm`; until then sign-in is unchanged. `409` when TOTP is already on.',
        security: AUTHENTICATED,
        response: {
          200: Type.Object({ secret: Type.String(), otpauth_uri: Type.String(), qr_svg: Type.String({ description: 'SVG document' }) }),
          ...problemResponses(401, 409),
        },
      },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      return mfa.beginTotp(requirePrincipal(request).user);
    },
  );

  app.post(
    '/users/me/mfa/totp/confirm',
    {
      config: enrolment,
      schema: {
        tags: ['mfa'],
        summary: 'Confirm TOTP enrolment with a code; returns ten recovery codes',
        description: 'Turns two-factor authentication on: from now on every sign-in asks for a code (`401 mfa_required`). The recovery codes are shown this once.',
        security: AUTHENTICATED,
        body: Type.Object({ code: CodeSchema }),
        response: { 200: RecoveryCodes, ...problemResponses(400, 401, 409, 429) },
      },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      return mfa.confirmTotp(requirePrincipal(request), request.body.code, actorOf(request), clientInfo(request));
    },
  );

  app.post(
    '/users/me/mfa/totp/disable',
    {
      config: self,
      schema: {
        tags: ['mfa'],
        summary: 'Turn TOTP off (password and a code, or a recovery code)',
        description: 'Removes the authenticator and the recovery codes. Not allowed (403 `mfa_enrollment_required` first) while a group of yours requires it and it is off.',
        security: AUTHENTICATED,
        body: Type.Object({ password: PasswordSchema, code: Type.Optional(CodeSchema), recovery_code: Type.Optional(RecoveryCodeSchema) }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const { password, code, recovery_code } = request.body;
      await mfa.disableTotp(requirePrincipal(request), password, { code, recovery_code }, actorOf(request), clientInfo(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/users/me/mfa/recovery-codes',
    {
      config: self,
      schema: {
        tags: ['mfa'],
        summary: 'Replace your recovery codes (needs a code)',
        security: AUTHENTICATED,
        body: Type.Object({ code: Type.Optional(CodeSchema), recovery_code: Type.Optional(RecoveryCodeSchema) }),
        response: { 200: RecoveryCodes, ...problemResponses(400, 401, 409, 429) },
      },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      const { code, recovery_code } = request.body;
      return mfa.regenerateRecoveryCodes(requirePrincipal(request), { code, recovery_code }, actorOf(request), clientInfo(request));
    },
  );

  app.post(
    '/auth/mfa',
    {
      config: { setsSessionCookie: true },
      schema: {
        tags: ['auth'],
        summary: 'Finish a sign-in with the second factor',
        description:
          'After `POST /auth/login` or `POST /auth/token` answered `401 mfa_required` with `mfa_token` (valid `mfa_expires_in` seconds, single use, burnt after MFA_MAX_ATTEMPTS wrong codes): send it with a TOTP `code` or a `recovery_code`. Answers what the first step would have: the session cookie and `{user, session}` for `/auth/login`, a token response for `/auth/token`. Wrong codes count against the login throttle.',
        body: Type.Object({ mfa_token: OpaqueTokenSchema, code: Type.Optional(CodeSchema), recovery_code: Type.Optional(RecoveryCodeSchema) }),
        response: { 200: SignInResponse, ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const client = clientInfo(request);
      const { mfa_token, code, recovery_code } = request.body;
      const done = await mfa.completeChallenge(mfa_token, { code, recovery_code }, client);
      const result = await auth.completeSignIn(done.user, { flow: done.flow, method: done.method }, client, { mfaSatisfied: true });
      return sendSignIn(reply, result);
    },
  );

  app.post(
    '/users/me/passkeys/options',
    {
      config: self,
      schema: {
        tags: ['mfa'],
        summary: 'Options to register a passkey (navigator.credentials.create)',
        description: 'A discoverable credential with user verification, for this server\'s RP id (the host of PUBLIC_URL). The challenge is valid for five minutes, once.',
        security: AUTHENTICATED,
        response: { 200: WebAuthnOptions, ...problemResponses(401, 403) },
      },
    },
    async (request) => mfa.passkeyRegistrationOptions(requirePrincipal(request).user),
  );

  app.post(
    '/users/me/passkeys',
    {
      config: self,
      schema: {
        tags: ['mfa'],
        summary: 'Register a passkey (the credential from navigator.credentials.create)',
        security: AUTHENTICATED,
        body: Type.Object({ response: WebAuthnResponse, name: Type.Optional(Type.String({ maxLength: 100 })) }),
        response: { 201: PasskeySchema, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const view = await mfa.verifyPasskeyRegistration(
        principal.user,
        request.body.response as unknown as RegistrationResponseJSON,
        request.body.name,
        actorOf(request),
      );
      return reply.code(201).send(view);
    },
  );

  app.get(
    '/users/me/passkeys',
    {
      config: self,
      schema: {
        tags: ['mfa'],
        summary: 'Your passkeys',
        security: AUTHENTICATED,
        response: { 200: Type.Object({ items: Type.Array(PasskeySchema) }), ...problemResponses(401, 403) },
      },
    },
    async (request) => ({ items: await mfa.listPasskeys(requirePrincipal(request).user.id) }),
  );

  app.patch(
    '/users/me/passkeys/:id',
    {
      config: self,
      schema: {
        tags: ['mfa'],
        summary: 'Rename a passkey',
        security: AUTHENTICATED,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: PasskeySchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => mfa.renamePasskey(requirePrincipal(request).user.id, request.params.id, request.body.name, actorOf(request)),
  );

  app.delete(
    '/users/me/passkeys/:id',
    {
      config: self,
      schema: {
        tags: ['mfa'],
        summary: 'Remove a passkey',
        security: AUTHENTICATED,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await mfa.removePasskey(requirePrincipal(request).user, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/passkey/options',
    {
      schema: {
        tags: ['auth'],
        summary: 'Options to sign in with a passkey (navigator.credentials.get)',
        description: 'No user is named: the browser offers the passkeys it holds for this site (discoverable credentials). The challenge is valid for five minutes, once.',
        response: { 200: WebAuthnOptions, ...problemResponses(429) },
      },
    },
    async () => mfa.passkeyAuthenticationOptions(),
  );

  app.post(
    '/auth/passkey',
    {
      config: { setsSessionCookie: true },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with a passkey, without a password',
        description:
          'Verifies the assertion (challenge, origin, RP id, user verification, signature, and a signature counter that must grow) and signs in: a passkey with user verification satisfies two-factor authentication. `flow` `cookie` (default) sets the session cookie and answers `{user, session}`; `token` answers an RFC 6749 token response.',
        body: Type.Object({ response: WebAuthnResponse, flow: Type.Optional(Type.Union([Type.Literal('cookie'), Type.Literal('token')])) }),
        response: { 200: SignInResponse, ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const client = clientInfo(request);
      const user = await mfa.verifyPasskeyAuthentication(request.body.response as unknown as AuthenticationResponseJSON, client);
      const flow = request.body.flow === 'token' ? 'api' : 'browser';
      const result = await auth.completeSignIn(user, { flow, method: 'passkey' }, client, { mfaSatisfied: true });
      return sendSignIn(reply, result);
    },
  );
};
