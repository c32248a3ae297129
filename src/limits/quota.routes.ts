/** `GET /users/me/quota`: the signed-in user's API call quota and storage usage. HTTP only; logic lives in QuotaService and FileService. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { requirePrincipal } from '../http/authenticate.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import type { FileService } from '../files/files.service.js';
import type { QuotaService } from './quota.service.js';

/** Options for {@link quotaRoutes}. */
export interface QuotaRoutesOptions {
  quota: QuotaService;
  /** For the storage quota (bytes of stored files). */
  files: FileService;
}

const QuotaWindowSchema = Type.Object({
  limit: Type.Integer({ minimum: 0, description: 'Calls allowed per window; 0 = unlimited.' }),
  used: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: 'Calls counted this window (refused calls excluded); null when unlimited.',
  }),
  remaining: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Calls left; null when unlimited.' }),
  reset_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the window resets; null when unlimited.',
  }),
});

/** The body of `GET /users/me/quota`. */
export const QuotaUsageSchema = Type.Object({
  hour: QuotaWindowSchema,
  day: QuotaWindowSchema,
  policy: Type.Union([Type.Literal('block'), Type.Literal('slow')], {
    description: '`block`: 429 past the quota until the window resets; `slow`: responses are delayed for a while.',
  }),
  slowed_until: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Until when your calls are delayed, or null.',
  }),
  storage: Type.Object(
    {
      limit_bytes: Type.Integer({ minimum: 0, description: 'Bytes of stored files you may own; 0 = unlimited.' }),
      used_bytes: Type.Integer({ minimum: 0, description: 'Bytes of the files you own.' }),
      remaining_bytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Bytes left; null when unlimited.' }),
    },
    { description: 'Your storage quota: uploads (`input`, `attachment`) beyond it get `413 storage_quota_exceeded`.' },
  ),
});

/** Registers `GET /users/me/quota` (mount under `/api/v1`). Exempt from the quota it reports. */
export const quotaRoutes: FastifyPluginAsyncTypebox<QuotaRoutesOptions> = async (app, { quota, files }) => {
  app.get(
    '/users/me/quota',
    {
      config: { auth: 'required', quotaExempt: true },
      schema: {
        tags: ['users'],
        summary: 'Your API call quota (usage per UTC hour and day) and storage quota',
        description:
          'Calls per hour and per day, and the bytes of stored files you may own, come from your groups (the most generous wins; 0 = unlimited). This call does not count.',
        security: AUTHENTICATED,
        response: { 200: QuotaUsageSchema, ...problemResponses(401, 429) },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const [calls, storage] = await Promise.all([quota.usage(principal.user.id, principal.access), files.storageUsage(principal)]);
      return { ...calls, storage };
    },
  );
};
