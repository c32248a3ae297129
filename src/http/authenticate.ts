/**
 * Request authentication and CSRF defence.
 *
 * Every route declares, in its own definition, `config.auth`: `'required'` (401 without valid
 * credentials), `'optional'` (principal when present) or nothing (public), and/or
 * `config.permission` (`resource:action`, 403 without it). Credentials are, in order,
 * `Authorization: Bearer <access token | gh_ API key>` and the session cookie.
 *
 * CSRF (OWASP CSRF Prevention Cheat Sheet, "Verifying Origin With Standard Headers"): an unsafe
 * request authenticated by cookie must carry an `Origin` (or, failing that, `Referer`) equal to
 * PUBLIC_URL's origin; SameSite=Lax on the cookie is the second layer. Bearer requests are not
 * subject to CSRF (browsers never attach them on their own).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { allows } from '../access/permissions.js';
import type { AuthService, Principal } from '../auth/auth.service.js';
import { AppError } from '../shared/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Whether the route needs a signed-in principal. */
    auth?: 'required' | 'optional';
    /**
     * The permission (`resource:action`) the route needs, or a list of which the principal needs
     * any one (e.g. `['jobs:read', 'jobs:manage']`); implies `auth: 'required'`. 403 without it.
     */
    permission?: string | readonly string[];
    /** The route sets the session cookie (login): a foreign Origin is refused even without a cookie. */
    setsSessionCookie?: boolean;
    /**
     * The route stays open to a user whose group requires two-factor authentication before they
     * have turned it on (enrolment, `GET /users/me`, sign-out); every other authenticated route
     * answers them `403 mfa_enrollment_required`.
     */
    allowBeforeMfaEnrollment?: boolean;
  }
  interface FastifyRequest {
    /** The authenticated caller, or null. Set before validation for routes with `config.auth`. */
    principal: Principal | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** How every API key begins (`gh_<prefix>_<secret>`); access tokens (JWTs) never do. */
const API_KEY_MARK = 'gh_';

/** Options for {@link installAuthentication}. */
export interface AuthenticationOptions {
  auth: AuthService;
  cookieName: string;
  /** Whether the session cookie carries `Secure`. */
  cookieSecure: boolean;
  /**
   * The origins allowed to make cookie-authenticated unsafe requests: PUBLIC_URL's, and
   * FRONTEND_URL's when an external frontend is configured (config `server.trustedOrigins`).
   */
  trustedOrigins: readonly string[];
}

/** `https://a.example` (PUBLIC_URL), or `https://a.example or https://b.example` (PUBLIC_URL, FRONTEND_URL). */
function expectedOrigins(options: AuthenticationOptions): string {
  return options.trustedOrigins.length > 1
    ? `${options.trustedOrigins.join(' or ')} (PUBLIC_URL, FRONTEND_URL)`
    : `${options.trustedOrigins[0]} (PUBLIC_URL)`;
}

function requestOrigin(request: FastifyRequest): string | null {
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== 'null') return origin;
  const referer = request.headers.referer;
  if (typeof referer === 'string') {
    try {
      return new URL(referer).origin;
    } catch {
      return null;
    }
  }
  return null;
}

function bearerToken(request: FastifyRequest): string | null | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * Registers the `onRequest` hook that sets `request.principal` and enforces `config.auth`,
 * `config.permission` and CSRF. Routes added by an embedding application use the same
 * `config` keys and get the same guard.
 */
export function installAuthentication(app: FastifyInstance, options: AuthenticationOptions): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const config = request.routeOptions.config;
    // A WebSocket upgrade is a GET, but a browser opens one to any site with the user's cookies:
    // cookie-authenticated upgrades get the Origin check of unsafe requests (Cross-Site WebSocket Hijacking).
    const unsafe = !SAFE_METHODS.has(request.method) || request.headers.upgrade?.toLowerCase() === 'websocket';
    if (config.setsSessionCookie && unsafe) {
      const origin = request.headers.origin;
      if (typeof origin === 'string' && !options.trustedOrigins.includes(origin)) {
        throw new AppError('csrf_failed', `Requests from ${origin} may not sign in here: the expected origin is ${expectedOrigins(options)}.`);
      }
    }
    const mode = config.permission ? 'required' : config.auth;
    if (!mode) return;

    const principal = await resolvePrincipal(request, reply, options, mode === 'required', unsafe);
    if (!principal) return;
    request.principal = principal;
    // A group's `require_mfa`: until TOTP is on, the account may only enrol (and read itself, sign out).
    if (principal.access.requireMfa && principal.user.mfa_enabled_at === null && !config.allowBeforeMfaEnrollment) {
      throw new AppError('mfa_enrollment_required', 'A group you belong to requires two-factor authentication: turn it on at POST /api/v1/users/me/mfa/totp first.');
    }
    if (config.permission) {
      const anyOf = typeof config.permission === 'string' ? [config.permission] : config.permission;
      if (!anyOf.some((p) => allows(principal.permissions, p))) {
        throw new AppError('forbidden', `This needs the ${anyOf.join(' or the ')} permission.`, {
          extra: { required_permission: anyOf[0] },
        });
      }
    }
  });
}

async function resolvePrincipal(
  request: FastifyRequest,
  reply: FastifyReply,
  options: AuthenticationOptions,
  required: boolean,
  unsafe: boolean,
): Promise<Principal | null> {
  const bearer = bearerToken(request);
  if (bearer !== undefined) {
    const principal = bearer ? await options.auth.authenticateBearer(bearer) : null;
    if (principal || !required) return principal;
    reply.header('WWW-Authenticate', 'Bearer error="invalid_token"');
    // A `gh_` credential is an API key: "session expired" would send its script to sign in again.
    if (bearer?.startsWith(API_KEY_MARK)) throw new AppError('invalid_api_key', 'The API key is invalid, expired or revoked.');
    throw new AppError('session_expired', 'The access token is invalid, expired or revoked.');
  }

  const cookie = request.cookies[options.cookieName];
  if (cookie) {
    const principal = await options.auth.authenticateCookie(cookie);
    if (!principal) {
      if (required) throw new AppError('session_expired', 'The session has expired or was revoked; sign in again.');
      return null;
    }
    const origin = unsafe ? requestOrigin(request) : null;
    if (unsafe && (origin === null || !options.trustedOrigins.includes(origin))) {
      throw new AppError(
        'csrf_failed',
        `Cookie-authenticated requests must come from ${expectedOrigins(options)} in their Origin or Referer header.`,
      );
    }
    if (principal.renewed && principal.session) {
      // Sliding expiry: the browser's copy of the cookie must expire with the session.
      reply.setCookie(options.cookieName, cookie, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure: options.cookieSecure,
        expires: new Date(principal.session.expires_at),
      });
    }
    return principal;
  }

  if (!required) return null;
  reply.header('WWW-Authenticate', 'Bearer');
  throw new AppError('authentication_required');
}

/** The principal of a route declared with `auth: 'required'`. @throws AppError when absent (a wiring bug). */
export function requirePrincipal(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('authentication_required');
  return request.principal;
}
