/**
 * Social sign-in over HTTP: `/api/v1/auth/providers`, `/api/v1/auth/oauth/{provider}/start` and
 * `/callback`, the pending-link endpoints, and `/api/v1/users/me/identities`. HTTP only: every
 * decision is the IdentityService's.
 *
 * Cookies: the flow cookie (`<AUTH_COOKIE_NAME>_oauth`, signed, 10 minutes, HttpOnly, path
 * `/api/v1/auth/oauth/`) carries the flow from start to callback; SameSite=Lax, or None (with
 * Secure) for providers that POST their answer back cross-site (Apple). The pending-link cookie
 * (`<AUTH_COOKIE_NAME>_link`) carries a link ticket from the callback to the sign-in page.
 *
 * The callback never answers 500 for a provider's failure: browser flows get a readable error
 * page (or, with `Accept: application/json`, a problem document); API-client flows are sent
 * back to their redirect with `error` and `error_description` (RFC 6749 §4.1.2.1). A browser
 * whose account has a second factor goes to `/sign-in?mfa_token=…` for the code step.
 */
import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toUserView } from '../accounts/accounts.service.js';
import { actorOf } from '../http/actor.js';
import { requirePrincipal } from '../http/authenticate.js';
import { toAppError } from '../http/problem.js';
import { AUTHENTICATED, OpaqueTokenSchema, PasswordSchema, problemResponses, UserRef } from '../http/schemas.js';
import type { ClientInfo } from '../sessions/sessions.service.js';
import { AppError, errorDefinition } from '../shared/errors.js';
import { escapeHtml } from '../shared/html-escape.js';
import { sendHtmlPage } from '../web/pages.routes.js';
import { IdentitySchema, ProviderSchema } from './identities.views.js';
import { FLOW_TTL_SECONDS, type FlowOutcome, type IdentityService, LINK_TTL_SECONDS } from './identities.service.js';

/** Options for {@link identitiesRoutes}. */
export interface IdentitiesRoutesOptions {
  identities: IdentityService;
  /** The session cookie's name; the flow and link cookies are named after it. */
  cookieName: string;
  cookieSecure: boolean;
  /** Where people's pages live (FRONTEND_URL, else PUBLIC_URL), without trailing slash: the sign-in page redirects go there. */
  publicUrl: string;
}

const FLOW_COOKIE_PATH = '/api/v1/auth/oauth/';

const SessionSchema = Type.Object({ id: Type.String(), expires_at: Type.String({ format: 'date-time' }) });

function clientInfo(request: FastifyRequest): ClientInfo {
  const ua = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof ua === 'string' ? ua : null };
}

/** `url` with `params` added to its query. */
function withQuery(url: string, params: Record<string, string>): string {
  const target = new URL(url);
  for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
  return target.toString();
}

/** True when the client asks for JSON rather than a page (API clients, fetch with Accept). */
function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return /json/.test(accept) && !/text\/html/.test(accept);
}

/** The readable page of a failed sign-in: the problem's title, detail and code, and the way back. */
function errorPage(reply: FastifyReply, error: AppError): FastifyReply {
  const detail = error.detail ?? '';
  if (error.headers) reply.headers(error.headers);
  return sendHtmlPage(
    reply,
    error.status,
    'Sign-in failed',
    `<h1>Sign-in failed</h1>
<p class="status error" id="status" role="status">${escapeHtml(errorDefinition(error.code).title)}.</p>
${detail ? `<p id="detail">${escapeHtml(detail)}</p>` : ''}
<p>Code: <code id="code">${escapeHtml(error.code)}</code></p>
<p><a href="/sign-in">Back to sign-in</a></p>`,
  );
}

export const identitiesRoutes: FastifyPluginAsyncTypebox<IdentitiesRoutesOptions> = async (app, options) => {
  const { identities, cookieName, publicUrl } = options;
  const flowCookieName = `${cookieName}_oauth`;
  const linkCookieName = `${cookieName}_link`;
  // The callback of `form_post` providers (Apple) is a form POST.
  await app.register(formbody, { bodyLimit: 64 * 1024 });

  const setSessionCookie = (reply: FastifyReply, token: string, expiresAt: string): void => {
    reply.setCookie(cookieName, token, { path: '/', httpOnly: true, sameSite: 'lax', secure: options.cookieSecure, expires: new Date(expiresAt) });
  };
  const clearFlowCookie = (reply: FastifyReply): void => {
    reply.clearCookie(flowCookieName, { path: FLOW_COOKIE_PATH });
  };

  app.get(
    '/auth/providers',
    {
      schema: {
        tags: ['auth'],
        summary: 'The enabled sign-in providers (social sign-in)',
        description: 'Each with the URL that starts a browser sign-in. Configured with OIDC_<NAME>_* and the presets’ <PRESET>_CLIENT_ID/_CLIENT_SECRET (README, “Social sign-in”).',
        response: { 200: Type.Object({ items: Type.Array(ProviderSchema) }) },
      },
    },
    async () => ({ items: identities.listProviders() }),
  );

  app.get(
    '/auth/oauth/:provider/start',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start a sign-in with a provider (redirects to it)',
        description:
          'Authorization code flow with PKCE, `state` and (OpenID Connect) `nonce`, kept in a signed 10-minute cookie. `redirect` (default PUBLIC_URL) must be on PUBLIC_URL or one of AUTH_REDIRECT_ORIGINS. Browsers (`mode=browser`, default) come back signed in (session cookie). API clients send `mode=api` with their own PKCE `code_challenge` (S256) and come back to `redirect` with `?code=…` (one use, 60 seconds), which they exchange at `POST /auth/token` (`grant_type=authorization_code`, `code`, `code_verifier`).',
        params: Type.Object({ provider: Type.String({ maxLength: 40 }) }),
        querystring: Type.Object({
          redirect: Type.Optional(Type.String({ maxLength: 2048 })),
          mode: Type.Optional(Type.Union([Type.Literal('browser'), Type.Literal('api')])),
          code_challenge: Type.Optional(Type.String({ maxLength: 128 })),
          code_challenge_method: Type.Optional(Type.Literal('S256')),
        }),
        response: { 302: Type.Null(), ...problemResponses(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      let flow: Awaited<ReturnType<IdentityService['start']>>;
      try {
        flow = await identities.start(request.params.provider, { redirect: q.redirect, mode: q.mode ?? 'browser', codeChallenge: q.code_challenge });
      } catch (error) {
        // A person who pressed a sign-in button gets a page; API clients (mode=api, or Accept: JSON) a problem document.
        if (q.mode === 'api' || wantsJson(request) || !/text\/html/.test(request.headers.accept ?? '')) throw error;
        return errorPage(reply, toAppError(error));
      }
      // form_post providers answer with a cross-site POST: a Lax cookie would not come along.
      const crossSite = flow.crossSitePost && options.cookieSecure;
      reply.setCookie(flowCookieName, flow.flowCookie, {
        path: FLOW_COOKIE_PATH,
        httpOnly: true,
        secure: options.cookieSecure,
        sameSite: crossSite ? 'none' : 'lax',
        maxAge: FLOW_TTL_SECONDS,
      });
      return reply.header('Cache-Control', 'no-store').redirect(flow.url, 302);
    },
  );

  /** Finishes a callback: cookies, then where the browser goes next. */
  const answerOutcome = (reply: FastifyReply, outcome: FlowOutcome): FastifyReply => {
    clearFlowCookie(reply);
    reply.header('Cache-Control', 'no-store');
    switch (outcome.kind) {
      case 'session':
        setSessionCookie(reply, outcome.signIn.token, outcome.signIn.session.expires_at);
        return reply.redirect(outcome.redirect, 303);
      case 'code':
        return reply.redirect(withQuery(outcome.redirect, { code: outcome.code }), 303);
      case 'linked':
        return reply.redirect(withQuery(outcome.redirect, { linked: outcome.provider }), 303);
      case 'link_required':
        if (outcome.mode === 'api') {
          return reply.redirect(
            withQuery(outcome.redirect, {
              error: 'identity_link_required',
              error_description: `An account with this email exists: prove it is yours (POST /api/v1/auth/oauth/link with link_token and password) to link ${outcome.provider.display_name}.`,
              link_token: outcome.ticket,
            }),
            303,
          );
        }
        reply.setCookie(linkCookieName, outcome.ticket, { path: FLOW_COOKIE_PATH, httpOnly: true, secure: options.cookieSecure, sameSite: 'lax', maxAge: LINK_TTL_SECONDS });
        return reply.redirect(`${publicUrl}/link-account?provider=${encodeURIComponent(outcome.provider.name)}`, 303);
    }
  };

  /** A failed callback: back to the API client's redirect, a problem document, or a readable page. */
  const answerFailure = async (request: FastifyRequest, reply: FastifyReply, error: unknown): Promise<FastifyReply> => {
    const appError = toAppError(error);
    if (appError.status >= 500 && appError.code !== 'identity_provider_unavailable') throw error;
    request.log.info({ code: appError.code, err: (appError.cause as Error | undefined)?.message }, 'social sign-in failed');
    const target = await identities.flowTarget(request.cookies[flowCookieName]);
    clearFlowCookie(reply);
    reply.header('Cache-Control', 'no-store');
    const mfaToken = appError.code === 'mfa_required' ? appError.extra?.mfa_token : undefined;
    if (typeof mfaToken === 'string' && target?.mode !== 'api' && !wantsJson(request)) {
      // The provider proved the first factor; the sign-in page asks for the second (POST /auth/mfa).
      return reply.redirect(`${publicUrl}/sign-in?mfa_token=${encodeURIComponent(mfaToken)}`, 303);
    }
    if (target?.mode === 'api') {
      return reply.redirect(withQuery(target.redirect, { error: appError.code, error_description: appError.detail ?? appError.message }), 303);
    }
    if (wantsJson(request)) throw appError;
    return errorPage(reply, appError);
  };

  const callbackSchema = {
    tags: ['auth'],
    summary: 'The provider returns here (the redirect URI to register with it)',
    description:
      'Verifies the answer against the flow cookie (state, PKCE, the code exchange, the ID token and its nonce) and signs in: a session cookie and a 303 to `redirect`; for API clients a 303 to `redirect?code=…`. An existing account with the provider’s verified email is linked only after proof: browsers go to `/link-account?provider=<provider>`, API clients get `error=identity_link_required&link_token=…`. Failures: a readable page (or a problem document with `Accept: application/json`; API clients: `redirect?error=…`).',
    params: Type.Object({ provider: Type.String({ maxLength: 40 }) }),
  };

  const handleCallback = async (request: FastifyRequest, reply: FastifyReply, provider: string, callback: URL | Request) => {
    try {
      const outcome = await identities.callback(provider, request.cookies[flowCookieName], callback, clientInfo(request));
      return answerOutcome(reply, outcome);
    } catch (error) {
      return answerFailure(request, reply, error);
    }
  };

  app.get(
    '/auth/oauth/:provider/callback',
    { schema: { ...callbackSchema, querystring: Type.Record(Type.String(), Type.String({ maxLength: 8192 })), response: { 303: Type.Null(), ...problemResponses(400, 403, 404, 409, 422, 503) } } },
    async (request, reply) => {
      const url = new URL(identities.callbackUrl(request.params.provider));
      url.search = new URL(request.url, 'http://localhost').search;
      return handleCallback(request, reply, request.params.provider, url);
    },
  );

  app.post(
    '/auth/oauth/:provider/callback',
    {
      schema: {
        ...callbackSchema,
        summary: 'The provider returns here with a form POST (`response_mode=form_post`, Apple)',
        consumes: ['application/x-www-form-urlencoded'],
        body: Type.Record(Type.String(), Type.String({ maxLength: 8192 })),
        response: { 303: Type.Null(), ...problemResponses(400, 403, 404, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const body = new URLSearchParams(request.body);
      const posted = new Request(identities.callbackUrl(request.params.provider), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
      });
      return handleCallback(request, reply, request.params.provider, posted);
    },
  );

  const ticketOf = (request: FastifyRequest, fromBody: string | undefined): string => {
    const ticket = fromBody ?? request.cookies[linkCookieName];
    if (!ticket) throw new AppError('identity_flow_invalid', 'No link is pending here: sign in with the provider again.');
    return ticket;
  };

  app.get(
    '/auth/oauth/link',
    {
      schema: {
        tags: ['auth'],
        summary: 'The pending link: which provider, and which existing account it would join',
        description: 'Reads the pending-link cookie the callback set (or `?link_token=` for API clients).',
        querystring: Type.Object({ link_token: Type.Optional(OpaqueTokenSchema) }),
        response: { 200: Type.Object({ provider: ProviderSchema, email: Type.String() }), ...problemResponses(400) },
      },
    },
    async (request) => identities.pendingLinkInfo(ticketOf(request, request.query.link_token)),
  );

  app.post(
    '/auth/oauth/link',
    {
      config: { setsSessionCookie: true },
      schema: {
        tags: ['auth'],
        summary: 'Link the provider account to the existing account by proving it with its password',
        description:
          'Throttled like sign-in. Browser flows: signs in (session cookie) and answers `{user, session, redirect}`. API-client flows (`link_token` from the redirect): answers `{code, redirect}`; exchange the code at `POST /auth/token` with your `code_verifier`.',
        body: Type.Object({ password: PasswordSchema, link_token: Type.Optional(OpaqueTokenSchema) }),
        response: {
          200: Type.Object({
            user: Type.Optional(UserRef),
            session: Type.Optional(SessionSchema),
            code: Type.Optional(Type.String()),
            redirect: Type.String(),
          }),
          ...problemResponses(400, 401, 403, 409, 429),
        },
      },
    },
    async (request, reply) => {
      const outcome = await identities.completeLinkWithPassword(ticketOf(request, request.body.link_token), request.body.password, clientInfo(request));
      reply.clearCookie(linkCookieName, { path: FLOW_COOKIE_PATH });
      if (outcome.kind === 'session') {
        setSessionCookie(reply, outcome.signIn.token, outcome.signIn.session.expires_at);
        return { user: toUserView(outcome.signIn.user), session: { id: outcome.signIn.session.id, expires_at: outcome.signIn.session.expires_at }, redirect: outcome.redirect };
      }
      if (outcome.kind === 'code') return { code: outcome.code, redirect: outcome.redirect };
      throw new AppError('identity_flow_invalid');
    },
  );

  app.post(
    '/auth/oauth/link/email',
    {
      schema: {
        tags: ['auth'],
        summary: 'Link by email instead: send the existing account a confirmation link',
        description: 'Uses up the pending link. The link in the email (`/link-account?token=…`, one hour, one use) links the provider account; sign in with the provider afterwards.',
        body: Type.Object({ link_token: Type.Optional(OpaqueTokenSchema) }),
        response: { 202: Type.Object({ message: Type.String() }), ...problemResponses(400) },
      },
    },
    async (request, reply) => {
      await identities.requestLinkByEmail(ticketOf(request, request.body.link_token));
      reply.clearCookie(linkCookieName, { path: FLOW_COOKIE_PATH });
      return reply.code(202).send({ message: 'We sent a confirmation link to the account’s email address.' });
    },
  );

  app.post(
    '/auth/oauth/link/confirm',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm a link with the token from the emailed link',
        body: Type.Object({ token: OpaqueTokenSchema }),
        response: { 200: Type.Object({ provider: ProviderSchema }), ...problemResponses(400, 409) },
      },
    },
    async (request) => identities.confirmLinkByEmail(request.body.token, clientInfo(request)),
  );

  app.get(
    '/users/me/identities',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['users'],
        summary: 'Your linked sign-in provider accounts',
        security: AUTHENTICATED,
        response: { 200: Type.Object({ items: Type.Array(IdentitySchema) }), ...problemResponses(401) },
      },
    },
    async (request) => ({ items: await identities.listOwn(requirePrincipal(request).user.id) }),
  );

  app.post(
    '/users/me/identities',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['users'],
        summary: 'Link a provider account to your account (browser sessions)',
        description:
          'Answers the provider’s authorization URL and sets the flow cookie: open the URL in the same browser. On return the provider account is linked and the browser goes to `redirect?linked=<provider>`. A POST (with the Origin check of cookie requests), so no other site can start a link for you.',
        security: AUTHENTICATED,
        body: Type.Object({ provider: Type.String({ maxLength: 40 }), redirect: Type.Optional(Type.String({ maxLength: 2048 })) }),
        response: { 200: Type.Object({ authorization_url: Type.String() }), ...problemResponses(400, 401, 404, 503) },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      if (principal.method !== 'cookie') throw new AppError('bad_request', 'Link a provider from a browser session: the provider sends the browser back here.');
      const flow = await identities.start(request.body.provider, { redirect: request.body.redirect, mode: 'browser' }, principal.user.id);
      reply.setCookie(flowCookieName, flow.flowCookie, {
        path: FLOW_COOKIE_PATH,
        httpOnly: true,
        secure: options.cookieSecure,
        sameSite: flow.crossSitePost && options.cookieSecure ? 'none' : 'lax',
        maxAge: FLOW_TTL_SECONDS,
      });
      return { authorization_url: flow.url };
    },
  );

  app.delete(
    '/users/me/identities/:id',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['users'],
        summary: 'Unlink one of your provider accounts',
        description: '`409 last_sign_in_method` when the account has no password and this is its only provider account.',
        security: AUTHENTICATED,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      await identities.unlink(requirePrincipal(request).user.id, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );
};
