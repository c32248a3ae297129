/** Liveness and readiness probes, and the JWKS. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { LevelWithSilent } from 'pino';
import { AppError } from '../shared/errors.js';
import { problemResponses } from '../http/schemas.js';
import type { AccessTokenService } from '../tokens/access-tokens.service.js';

/** Options for {@link healthRoutes}. */
export interface HealthRoutesOptions {
  /** Resolves true when the database answers. */
  isDatabaseReady: () => Promise<boolean>;
  accessTokens: AccessTokenService;
  /** The server's log level: probes log at `warn` or quieter, never louder than the server. */
  logLevel: LevelWithSilent;
}

const LEVELS: LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The quieter of two pino levels. */
function quieter(a: LevelWithSilent, b: LevelWithSilent): LevelWithSilent {
  return LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b;
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, options) => {
  // Probes are polled constantly: keep their per-request lines out of the log.
  const probeLogLevel = quieter(options.logLevel, 'warn');
  app.get(
    '/healthz',
    {
      logLevel: probeLogLevel,
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      logLevel: probeLogLevel,
      schema: {
        tags: ['health'],
        summary: 'Readiness: the database is reachable (503 otherwise)',
        response: { 200: Type.Object({ status: Type.Literal('ready') }), ...problemResponses(503) },
      },
    },
    async () => {
      if (!(await options.isDatabaseReady())) {
        throw new AppError('service_unavailable', 'The database is not reachable.');
      }
      return { status: 'ready' as const };
    },
  );

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['auth'],
        summary: 'Public keys that verify access tokens (RFC 7517 JWK Set)',
        response: {
          200: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }),
        },
      },
    },
    async (_request, reply) => {
      reply.header('Cache-Control', 'public, max-age=300');
      return options.accessTokens.currentJwks();
    },
  );
};
