/**
 * `buildApp(gatehouse)`: the Fastify application, built but never listening (the server entry
 * listens; tests use the very same app with `inject` or a real port).
 */
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Gatehouse } from './container.js';
import { healthRoutes } from './health/health.routes.js';
import { jobSchemas } from './jobs/job-schemas.js';
import { installAuthentication } from './http/authenticate.js';
import { answerClientError } from './http/client-errors.js';
import { rejectNulCharacters } from './http/input-guards.js';
import { installFailedAuthenticationGuard, installRequestLimits } from './limits/request-limits.js';
import { installProblemHandlers, sendProblem, toAppError } from './http/problem.js';
import { sharedSchemas } from './http/schemas.js';
import { newRequestId } from './shared/ids.js';
import { lazyChildLoggerFactory, RequestLogController } from './http/request-logging.js';
import { PLATFORM_FEATURES } from './platform/index.js';
import { VERSION } from './version.js';
import { GATEHOUSE_LOGO_SVG, pagesRoutes } from './web/pages.routes.js';
import { PRODUCT_SUMMARY } from './shared/product.js';
import { webAppRoutes } from './web/app.routes.js';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** How long a graceful shutdown lets requests in flight finish before it ends every connection. */
const SHUTDOWN_GRACE_MS = 30_000;

/**
 * Headers on every response: the request id and the baseline security headers. The names are
 * written in lower case, as Fastify stores and sends them: it lower-cases every name it is given,
 * which for a mixed-case literal is a new string per call on every response.
 */
function setStandardHeaders(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  reply.header('x-content-type-options', 'nosniff');
  if (!reply.hasHeader('referrer-policy')) reply.header('referrer-policy', 'strict-origin-when-cross-origin');
  reply.header('x-frame-options', 'DENY');
}

/** Options for {@link buildApp}. */
export interface BuildAppOptions {
  /**
   * Adds an embedding application's own routes. They get everything Gatehouse's routes get:
   * `config: { auth: 'required' | 'optional' }` and `config: { permission: 'resource:action' }`
   * are enforced by the same guard (401/403 problem documents), `request.principal` is set, rate
   * limits and quotas apply, errors become problem documents, and schemas appear in /openapi.json.
   */
  extend?: (app: FastifyInstance, gatehouse: Gatehouse) => Promise<void> | void;
}

/**
 * Builds the HTTP application on top of a {@link Gatehouse}.
 * @returns a ready (plugins loaded) Fastify instance; call `listen` or `inject` on it.
 */
export async function buildApp(gatehouse: Gatehouse, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const { config } = gatehouse;
  const app = Fastify({
    loggerInstance: gatehouse.logger as FastifyBaseLogger,
    // One log line per request, and no child logger per request (see http/request-logging.ts).
    logController: new RequestLogController(gatehouse.logger),
    childLoggerFactory: lazyChildLoggerFactory,
    // A hop count is valid for Fastify (proxy-addr) even though its types omit it.
    trustProxy: config.server.trustProxy as boolean | string,
    bodyLimit: config.server.bodyLimitBytes,
    // Route plugins import their modules on first use; on a loaded machine (a CI box running tests
    // in parallel) that can take longer than Fastify's 10 s default, which would fail the start.
    pluginTimeout: 120_000,
    // Slowloris: a request (headers and body) must arrive within requestTimeout, and a connection
    // with nothing read or written for connectionTimeout is closed. Node applies requestTimeout only
    // while a request is being received: streamed and hijacked responses (SSE, WebSocket after its
    // upgrade, long-poll claims, downloads) are not cut by it.
    requestTimeout: config.server.requestTimeoutSeconds * 1000,
    connectionTimeout: config.server.connectionTimeoutSeconds * 1000,
    // Node checks request and header timeouts on this interval (30 s by default): a tenth of the
    // timeout keeps its enforcement close to the setting.
    http: {
      requestTimeout: config.server.requestTimeoutSeconds * 1000,
      headersTimeout: Math.min(60_000, config.server.requestTimeoutSeconds * 1000),
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, config.server.requestTimeoutSeconds * 100)),
    },
    // Oversized request lines/headers (431), timeouts (408) and malformed requests (400) get problem documents.
    clientErrorHandler: answerClientError,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : newRequestId();
    },
    ajv: {
      customOptions: {
        // Wrong types are errors, not something to coerce: "12345678901" must not become a password.
        coerceTypes: false,
        allErrors: true,
        removeAdditional: false,
      },
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Router failures (malformed percent-encoding, an over-long path parameter) would otherwise get
    // Fastify's own JSON body; send them through the one problem funnel like every other error.
    // They bypass the hooks, so the standard headers are set here too.
    frameworkErrors: (error, request, reply) => {
      setStandardHeaders(request, reply);
      sendProblem(reply, toAppError(error));
    },
  });

  installProblemHandlers(app);
  // JSON only (the token endpoint adds form bodies for OAuth clients); anything else is 415.
  app.removeContentTypeParser('text/plain');
  for (const schema of [...sharedSchemas, ...jobSchemas]) app.addSchema(schema);

  // Graceful shutdown: once close() has begun, answers to requests still in flight carry
  // `Connection: close`. Otherwise their keep-alive connections outlive the response and hold
  // the server (and the process) open until the client's keep-alive timeout (72 s).
  let closing = false;
  // Requests being answered (hijacked streams included: a response's `close` fires for them too).
  let active = 0;
  app.server.on('request', (_req, res: { once(event: 'close', fn: () => void): unknown }) => {
    active++;
    res.once('close', () => active--);
  });
  app.addHook('preClose', async () => {
    closing = true;
    // Long-poll claims would hold the close up to JOB_MAX_WAIT_SECONDS: answer them 204 now.
    gatehouse.workerProtocol.stopWaiting();
    // Open SSE streams and WebSockets never end on their own.
    gatehouse.live.disconnectAll();
    // server.close() only ends connections once idle; a connection that never sent a request (a
    // browser's preconnect) would hold it until the headers timeout. Once no request is being
    // answered, or after a grace period, end every connection.
    const startedAt = Date.now();
    const sweep = setInterval(() => {
      if (active > 0 && Date.now() - startedAt < SHUTDOWN_GRACE_MS) return;
      clearInterval(sweep);
      app.server.closeAllConnections();
    }, 50);
    sweep.unref();
  });
  // Callback style rather than async: it runs for every response and has nothing to await.
  app.addHook('onSend', (request, reply, payload, done) => {
    setStandardHeaders(request, reply);
    // An answer sent before the request body was read whole (a refused or oversized upload) must
    // end the connection: otherwise the server waits for the rest of a body the client may never
    // send, and the connection (and a graceful shutdown) hangs until the request timeout.
    if (closing || !request.raw.complete) reply.header('Connection', 'close');
    done(null, payload);
  });
  app.addHook('preValidation', rejectNulCharacters);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: `${config.server.appName} API`,
        version: VERSION,
        description: [
          `${PRODUCT_SUMMARY.charAt(0).toUpperCase()}${PRODUCT_SUMMARY.slice(1)}.`,
          'Errors are RFC 9457 problem documents with a stable `code`. Authenticate with `Authorization: Bearer <access token>` (from `/api/v1/auth/token`) or an API key, or with the session cookie set by `/api/v1/auth/login`.',
          // The WebSocket route cannot be described as an OpenAPI operation (it is an upgrade), so it is described here.
          '**Live events over a WebSocket:** `GET /api/v1/ws` (upgrade; same credentials as above, and a cookie-authenticated upgrade must come from this site\'s origin). Send `{"type":"subscribe","topics":["job:<id>","queue:<name>"],"after":<event id>}` or `{"type":"unsubscribe","topics":[…]}`; the server answers `{"type":"subscribed","topics"}`, `{"type":"unsubscribed","topics"}`, `{"type":"event","event"}` and `{"type":"error","code","detail"}`. The same events as `GET /api/v1/events` (Server-Sent Events).',
        ].join('\n\n'),
      },
      // Relative, so "Try it out" and the OAuth2 password flow work from whatever origin /docs was opened at.
      servers: [{ url: '/', description: `this server (public URL ${config.server.publicUrl})` }],
      components: {
        securitySchemes: {
          oauth2: {
            type: 'oauth2',
            description: 'OAuth 2.0 password grant: use your email as the username.',
            flows: { password: { tokenUrl: '/api/v1/auth/token', refreshUrl: '/api/v1/auth/token', scopes: {} } },
          },
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          cookieAuth: { type: 'apiKey', in: 'cookie', name: config.auth.cookieName },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (json.$id as string) || `def-${i}` },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // Tags start collapsed: Swagger UI 5 stopped rendering the operation list part-way once the
    // document passed ~135 operations (found with the browser test), and a list of tags reads better.
    uiConfig: { persistAuthorization: true, tryItOutEnabled: true, docExpansion: 'none' },
    // Gatehouse's logo in the top bar and as the favicon, instead of Swagger's.
    logo: { type: 'image/svg+xml', content: GATEHOUSE_LOGO_SVG, href: '/', target: '_self' },
    theme: {
      favicon: [{ filename: 'gatehouse.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: GATEHOUSE_LOGO_SVG }],
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(cookie);
  if (config.server.frontendUrl) {
    // An external frontend calls the API from its own origin, with the session cookie (it must be
    // same-site with PUBLIC_URL for the SameSite=Lax cookie to travel) or a bearer token.
    await app.register(cors, {
      origin: [new URL(config.server.frontendUrl).origin],
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      exposedHeaders: ['location', 'content-disposition', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'x-request-id'],
      maxAge: 600,
    });
  }
  // No permessage-deflate: its zlib contexts cost ~300 KB per socket (10,000 idle sockets must fit
  // in 500 MB). Client messages are small subscribe/unsubscribe requests.
  await app.register(websocket, { options: { perMessageDeflate: false, maxPayload: 64 * 1024 } });
  installFailedAuthenticationGuard(app, { store: gatehouse.limiterStore, config });
  installAuthentication(app, {
    auth: gatehouse.auth,
    cookieName: config.auth.cookieName,
    cookieSecure: config.auth.cookieSecure,
    trustedOrigins: config.server.trustedOrigins,
  });
  installRequestLimits(app, { store: gatehouse.limiterStore, config, quota: gatehouse.quota });

  await app.register(healthRoutes, {
    isDatabaseReady: gatehouse.isDatabaseReady,
    accessTokens: gatehouse.accessTokens,
    logLevel: config.server.logLevel,
  });
  await app.register(pagesRoutes, { appName: config.server.appName, siteUrl: config.server.siteUrl, version: VERSION });
  if (config.server.frontendUrl) {
    // An external frontend serves the pages: the bare origin sends people there.
    const frontendUrl = config.server.frontendUrl;
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect(`${frontendUrl}/`, 302));
  } else {
    await app.register(webAppRoutes);
  }
  await app.register(
    async (api) => {
      // The platform's features, then the feature modules, each in its own encapsulated scope
      // (its hooks, decorators and content-type parsers stay its own).
      for (const feature of PLATFORM_FEATURES) {
        if (feature.routes) await api.register(async (scope) => feature.routes?.(scope, gatehouse, gatehouse));
      }
      for (const { module, services } of gatehouse.modules) {
        if (module.routes) await api.register(async (scope) => module.routes?.(scope, services, gatehouse));
      }
    },
    { prefix: '/api/v1' },
  );
  if (options.extend) await app.register(async (scope) => options.extend?.(scope, gatehouse));

  await app.ready();
  return app;
}
