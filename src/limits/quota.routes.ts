/** `GET /users/me/quota`: the signed-in user's API call quota usage. HTTP only; logic lives in QuotaService. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { requirePrincipal } from '../http/authenticate.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import type { QuotaService } from './quota.service.js';

/** Options for {@link quotaRoutes}. */
export interface QuotaRoutesOptions {
  quota: QuotaService;
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
});

/** Registers `GET /users/me/quota` (mount under `/api/v1`). Exempt from the quota it reports. */
export const quotaRoutes: FastifyPluginAsyncTypebox<QuotaRoutesOptions> = async (app, { quota }) => {
  app.get(
    '/users/me/quota',
    {
      config: { auth: 'required', quotaExempt: true },
      schema: {
        tags: ['users'],
        summary: 'Your API call quota: usage per UTC hour and day',
        description:
          'Calls per hour and per day come from your groups (the most generous wins; 0 = unlimited). This call does not count.',
        security: AUTHENTICATED,
        response: { 200: QuotaUsageSchema, ...problemResponses(401, 429) },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return quota.usage(principal.user.id, principal.access);
    },
  );
};
