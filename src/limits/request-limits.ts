/**
 * Request rate limits and API call quotas, as one Fastify `onRequest` hook.
 *
 * - Unauthenticated requests are limited per client IP (RATE_LIMIT_IP_PER_MINUTE), requests
 *   with a principal per user (RATE_LIMIT_USER_PER_MINUTE), in fixed one-minute windows.
 *   The client IP is `request.ip`: Fastify's `trustProxy` (TRUST_PROXY) decides when
 *   `X-Forwarded-For` counts, so a client cannot pick its own IP unless a trusted proxy says so.
 * - A route may override its limit in its own definition with `config.rateLimit: { points,
 *   durationSeconds }` (a separate counter per route, per user or IP as above) or opt out with
 *   `config.rateLimit: false`.
 * - Not limited, by matched route: `/healthz`, `/readyz`, `/docs` and everything under it, and
 *   the static `/assets/*`, the web app's hashed `/static/*` files and its favicon (probes,
 *   documentation and the app's code must keep loading while a client is throttled; the app's
 *   pages themselves, `index.html`, count like any request).
 * - Every limited response carries `RateLimit-Limit`, `RateLimit-Remaining` and
 *   `RateLimit-Reset` (IETF draft-ietf-httpapi-ratelimit-headers); past the limit the answer is
 *   a 429 `rate_limited` problem document with `Retry-After`.
 * - Requests with a principal then count against the user's API call quota (see
 *   {@link QuotaService}) unless the route says `config.quotaExempt: true`; the `slow` policy
 *   holds the request here for the delay it returns.
 *
 * Register right after the authentication hook: it reads `request.principal`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { LimiterStore } from './limiter-store.js';
import type { QuotaService } from './quota.service.js';
import { rateLimitedError, secondsFrom } from './rate-limit-headers.js';
import type { WindowCount, WindowCounter } from './window-counter.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * This route's own request limit (`points` per `durationSeconds`, per user when signed in,
     * else per IP) instead of the global one; `false` = not rate limited.
     */
    rateLimit?: { points: number; durationSeconds: number } | false;
    /** Calls to this route do not count against the user's API call quota. */
    quotaExempt?: boolean;
  }
}

/** Dependencies of {@link installRequestLimits}. */
export interface RequestLimitsDeps {
  store: LimiterStore;
  config: Config;
  quota: QuotaService;
}

/** Route patterns never limited: probes, API docs, static assets. */
function isUnlimitedRoute(pattern: string | undefined): boolean {
  if (pattern === undefined) return false;
  return (
    pattern === '/healthz' ||
    pattern === '/readyz' ||
    pattern === '/docs' ||
    pattern.startsWith('/docs/') ||
    pattern.startsWith('/assets/') ||
    pattern.startsWith('/static/') ||
    pattern === '/favicon.svg'
  );
}

interface Limit {
  counter: WindowCounter;
  points: number;
}

/** The `RateLimit-*` headers of an allowed request (see `rate-limit-headers.ts`). */
function setLimitHeaders(reply: FastifyReply, points: number, count: WindowCount): void {
  // Lower case, as Fastify stores and sends names (see setStandardHeaders in app.ts).
  reply.header('ratelimit-limit', points);
  reply.header('ratelimit-remaining', Math.max(0, points - count.consumed));
  reply.header('ratelimit-reset', secondsFrom(count.msBeforeNext));
}

/**
 * Registers the rate-limit and quota `onRequest` hook on `app` (see the module comment). With
 * the in-memory store the count is synchronous and the hook completes without a promise unless
 * a quota applies.
 *
 * @throws (from the hook) AppError `rate_limited` (429) past a rate limit; `quota_exceeded`
 *   (429) or `user_banned` (403) from {@link QuotaService.consume}.
 */
export function installRequestLimits(app: FastifyInstance, deps: RequestLimitsDeps): void {
  const { store, config, quota } = deps;
  const perIp: Limit = {
    counter: store.createCounter('req-ip', { points: config.limits.ipPerMinute, durationSeconds: 60 }),
    points: config.limits.ipPerMinute,
  };
  const perUser: Limit = {
    counter: store.createCounter('req-user', { points: config.limits.userPerMinute, durationSeconds: 60 }),
    points: config.limits.userPerMinute,
  };
  const perRoute = new Map<string, Limit>();

  function routeLimit(request: FastifyRequest, rule: { points: number; durationSeconds: number }): Limit {
    const name = `req-route:${request.routeOptions.method}:${request.routeOptions.url}`;
    let limit = perRoute.get(name);
    if (!limit) {
      limit = { counter: store.createCounter(name, rule), points: rule.points };
      perRoute.set(name, limit);
    }
    return limit;
  }

  /** After the count: 429 past the limit, else the headers, then the quota (may be async). */
  function afterCount(request: FastifyRequest, reply: FastifyReply, limit: Limit, count: WindowCount, done: (error?: Error) => void): void {
    if (count.consumed > limit.points) {
      done(rateLimitedError(limit.points, count.msBeforeNext, 'Too many requests; try again in {seconds} seconds.'));
      return;
    }
    setLimitHeaders(reply, limit.points, count);
    const principal = request.principal;
    if (!principal || request.routeOptions.config.quotaExempt) {
      done();
      return;
    }
    const access = principal.access;
    // No quota configured for this user: nothing to count (QuotaService.consume would do nothing).
    if (!(access.quotaPerHour > 0) && !(access.quotaPerDay > 0)) {
      done();
      return;
    }
    quota.consume(principal.user.id, access).then(
      ({ delayMs }) => (delayMs > 0 ? sleep(delayMs).then(() => done()) : done()),
      (error: Error) => done(error),
    );
  }

  // Callback style: with the in-memory store this hook runs on every request without a promise.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    const routeConfig = request.routeOptions.config;
    if (routeConfig.rateLimit === false || isUnlimitedRoute(request.routeOptions.url)) {
      done();
      return;
    }
    const principal = request.principal;
    const subject = principal ? `u:${principal.user.id}` : `ip:${request.ip}`;
    const limit = routeConfig.rateLimit ? routeLimit(request, routeConfig.rateLimit) : principal ? perUser : perIp;
    const counted = limit.counter.consume(subject);
    if (counted instanceof Promise) {
      counted.then(
        (count) => afterCount(request, reply, limit, count, done),
        (error: Error) => done(error),
      );
    } else {
      afterCount(request, reply, limit, counted, done);
    }
  });
}

/**
 * Throttles clients that keep presenting bad credentials. The request limits above run after
 * authentication (they need the principal), so a request whose token, key or cookie is refused
 * never reaches them; this guard closes that gap. Every 401 answered to an IP costs it a point
 * (RATE_LIMIT_IP_PER_MINUTE per minute); once they are spent, that IP's requests are refused with
 * 429 before any credential is looked at, until the window ends.
 *
 * Register BEFORE the authentication hook.
 */
export function installFailedAuthenticationGuard(app: FastifyInstance, deps: Pick<RequestLimitsDeps, 'store' | 'config'>): void {
  const points = deps.config.limits.ipPerMinute;
  const counter = deps.store.createCounter('auth-fail-ip', { points, durationSeconds: 60 });
  const check = (count: WindowCount | null, done: (error?: Error) => void) => {
    if (count && count.consumed >= points) {
      done(rateLimitedError(points, count.msBeforeNext, 'Too many failed authentications; try again in {seconds} seconds.'));
    } else {
      done();
    }
  };

  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    if (isUnlimitedRoute(request.routeOptions.url)) {
      done();
      return;
    }
    const seen = counter.peek(`ip:${request.ip}`);
    if (seen instanceof Promise) seen.then((count) => check(count, done), (error: Error) => done(error));
    else check(seen, done);
  });

  // Callback style: it runs for every response and, but for a 401, has nothing to wait for.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    if (reply.statusCode !== 401) {
      done();
      return;
    }
    const unavailable = (error: unknown) => {
      request.log.warn({ err: error }, 'failed-authentication limiter unavailable');
      done();
    };
    try {
      Promise.resolve(counter.consume(`ip:${request.ip}`)).then(() => done(), unavailable);
    } catch (error) {
      unavailable(error);
    }
  });
}
