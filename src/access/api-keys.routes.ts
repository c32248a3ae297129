/** `/api/v1/api-keys`: create, list and revoke API keys. HTTP only; logic lives in ApiKeyService. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../http/actor.js';
import { requirePrincipal } from '../http/authenticate.js';
import { PageOf, PageQuery, readPage, toPage } from '../http/pagination.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { AppError } from '../shared/errors.js';
import { allows } from './permissions.js';
import type { ApiKeyService } from './api-keys.service.js';
import { type AuthService, FRESH_SIGN_IN_SECONDS } from '../auth/auth.service.js';
import { PasswordSchema } from '../http/schemas.js';
import { ApiKeySchema } from './access.views.js';

/** Options for {@link apiKeysRoutes}. */
export interface ApiKeysRoutesOptions {
  apiKeys: ApiKeyService;
  /** Re-checks the caller's password before a key is created. */
  auth: AuthService;
}

export const apiKeysRoutes: FastifyPluginAsyncTypebox<ApiKeysRoutesOptions> = async (app, { apiKeys, auth }) => {
  app.addSchema(ApiKeySchema);
  const ApiKeyRef = Type.Ref('ApiKey');

  app.post(
    '/api-keys',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['api-keys'],
        summary: 'Create an API key (the secret is shown once)',
        description:
          `Scopes must be permissions you have (e.g. \`jobs:claim\`); the key can never do more than you can. Send it as \`Authorization: Bearer gh_<prefix>_<secret>\`. \`expires_in\` (seconds) may be required by your groups' policy. \`password\` (your current password) is required unless you call with a browser session that signed in within the last ${FRESH_SIGN_IN_SECONDS / 60} minutes; access tokens and API keys always send it. Missing or wrong: \`403 reauthentication_required\`.`,
        security: AUTHENTICATED,
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          scopes: Type.Array(Type.String({ maxLength: 130 }), { minItems: 1, maxItems: 50 }),
          expires_in: Type.Optional(Type.Integer({ minimum: 60, maximum: 100 * 365 * 86_400, description: 'seconds' })),
          password: Type.Optional(PasswordSchema),
        }),
        response: {
          201: Type.Object({ key: ApiKeyRef, secret: Type.String({ description: 'The full key. Store it now: it is never shown again.' }) }),
          ...problemResponses(400, 401, 403, 429),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const ua = request.headers['user-agent'];
      await auth.confirmIdentity(principal, request.body.password, {
        ip: request.ip ?? null,
        userAgent: typeof ua === 'string' ? ua : null,
      });
      const created = await apiKeys.create(
        principal.user,
        {
          name: request.body.name,
          scopes: request.body.scopes,
          expiresInSeconds: request.body.expires_in,
          callerPermissions: principal.permissions,
        },
        actorOf(request),
      );
      return reply.code(201).header('Cache-Control', 'no-store').send(created);
    },
  );

  app.get(
    '/api-keys',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['api-keys'],
        summary: 'List API keys (yours; with api_keys:manage, anyone\'s)',
        security: AUTHENTICATED,
        querystring: Type.Object({
          ...PageQuery,
          user_id: Type.Optional(Type.String({ format: 'uuid', description: 'Another user (needs api_keys:manage)' })),
          all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Every user\'s keys (needs api_keys:manage)' })),
          include_revoked: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
        }),
        response: { 200: PageOf(ApiKeyRef), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { limit, afterId } = readPage(request.query);
      const wantsOthers = request.query.all === 'true' || (request.query.user_id && request.query.user_id !== principal.user.id);
      if (wantsOthers && !allows(principal.permissions, 'api_keys:manage')) {
        throw new AppError('forbidden', 'Listing other users\' keys needs the api_keys:manage permission.');
      }
      const userId = request.query.all === 'true' ? undefined : (request.query.user_id ?? principal.user.id);
      return toPage(
        await apiKeys.list({ userId, includeRevoked: request.query.include_revoked === 'true', limit, afterId }),
      );
    },
  );

  app.delete(
    '/api-keys/:id',
    {
      config: { permission: 'account:self' },
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke an API key (yours; with api_keys:manage, anyone\'s)',
        security: AUTHENTICATED,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      await apiKeys.revoke(
        request.params.id,
        { userId: principal.user.id, asAdmin: allows(principal.permissions, 'api_keys:manage') },
        actorOf(request),
      );
      return reply.code(204).send(null);
    },
  );
};
