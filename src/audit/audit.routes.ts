/** `/api/v1/audit`: the audit log and login attempts, for administrators. HTTP only. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { PageOf, PageQuery, readPage, toPage } from '../http/pagination.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import type { AuditLog } from './audit.service.js';
import { AuditEntrySchema, LoginAttemptSchema } from './audit.views.js';

/** Options for {@link auditRoutes}. */
export interface AuditRoutesOptions {
  audit: AuditLog;
}

export const auditRoutes: FastifyPluginAsyncTypebox<AuditRoutesOptions> = async (app, { audit }) => {
  app.get(
    '/audit',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags: ['admin'],
        summary: 'The audit log, newest first',
        security: AUTHENTICATED,
        querystring: Type.Object({
          ...PageQuery,
          actor_id: Type.Optional(Type.String({ format: 'uuid' })),
          target_id: Type.Optional(Type.String({ maxLength: 100 })),
          action: Type.Optional(Type.String({ maxLength: 64, description: 'e.g. user.ban, auth.login_failed' })),
          since: Type.Optional(Type.String({ format: 'date-time' })),
          until: Type.Optional(Type.String({ format: 'date-time' })),
        }),
        response: {
          200: PageOf(AuditEntrySchema),
          ...problemResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { limit, afterId } = readPage(request.query);
      const q = request.query;
      return toPage(
        await audit.list({
          actorId: q.actor_id,
          targetId: q.target_id,
          action: q.action,
          since: q.since && new Date(q.since).toISOString(),
          until: q.until && new Date(q.until).toISOString(),
          beforeId: afterId,
          limit,
        }),
      );
    },
  );

  app.get(
    '/audit/login-attempts',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags: ['admin'],
        summary: 'Password login attempts, newest first, by email, user or IP',
        security: AUTHENTICATED,
        querystring: Type.Object({
          ...PageQuery,
          email: Type.Optional(Type.String({ maxLength: 254 })),
          user_id: Type.Optional(Type.String({ format: 'uuid' })),
          ip: Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: {
          200: PageOf(LoginAttemptSchema),
          ...problemResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { limit, afterId } = readPage(request.query);
      return toPage(
        await audit.listLoginAttempts({
          email: request.query.email,
          userId: request.query.user_id,
          ip: request.query.ip,
          beforeId: afterId,
          limit,
        }),
      );
    },
  );
};
