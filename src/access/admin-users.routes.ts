/**
 * `/api/v1/users` (administration) and `/api/v1/users/{id}/public`. HTTP only; logic lives in
 * UserAdminService.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../http/actor.js';
import { PageOf, PageQuery, readPage, toPage } from '../http/pagination.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { AdminUserSchema, PublicProfileSchema, RoleSchema, StatusSchema } from './access.views.js';
import type { UserAdminService } from './user-admin.service.js';

/** Options for {@link adminUsersRoutes}. */
export interface AdminUsersRoutesOptions {
  users: UserAdminService;
}

const BooleanQuery = Type.Union([Type.Literal('true'), Type.Literal('false')]);
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

function parseBoolean(value: 'true' | 'false' | undefined): boolean | undefined {
  return value === undefined ? undefined : value === 'true';
}

export const adminUsersRoutes: FastifyPluginAsyncTypebox<AdminUsersRoutesOptions> = async (app, { users }) => {
  app.addSchema(AdminUserSchema);
  const AdminUserRef = Type.Ref('AdminUser');

  app.get(
    '/users',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['admin'],
        summary: 'List users (filters, cursor pagination)',
        security: AUTHENTICATED,
        querystring: Type.Object({
          ...PageQuery,
          q: Type.Optional(Type.String({ maxLength: 200, description: 'Substring of the email or name (case-insensitive)' })),
          role: Type.Optional(RoleSchema),
          group: Type.Optional(Type.String({ maxLength: 100, description: 'Group id or name' })),
          status: Type.Optional(StatusSchema),
          verified: Type.Optional(BooleanQuery),
          banned: Type.Optional(BooleanQuery),
        }),
        response: { 200: PageOf(AdminUserRef), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { limit, afterId } = readPage(request.query);
      const q = request.query;
      return toPage(
        await users.list(
          {
            q: q.q,
            role: q.role,
            group: q.group,
            status: q.status,
            verified: parseBoolean(q.verified),
            banned: parseBoolean(q.banned),
          },
          { limit, afterId },
        ),
      );
    },
  );

  app.get(
    '/users/:id',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['admin'],
        summary: 'One user',
        security: AUTHENTICATED,
        params: IdParams,
        response: { 200: AdminUserRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => users.get(request.params.id),
  );

  app.patch(
    '/users/:id',
    {
      config: { permission: 'users:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Change a user (name, profile, role, status)',
        description: 'A role change or deactivation applies to the very next request; deactivation revokes every session and API key.',
        security: AUTHENTICATED,
        params: IdParams,
        body: Type.Object({
          name: Type.Optional(Type.String({ maxLength: 200 })),
          profile: Type.Optional(Type.Object({}, { additionalProperties: true })),
          role: Type.Optional(RoleSchema),
          status: Type.Optional(StatusSchema),
        }),
        response: { 200: AdminUserRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => users.update(request.params.id, request.body, actorOf(request)),
  );

  app.delete(
    '/users/:id',
    {
      config: { permission: 'users:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Delete a user and their data',
        description: 'Sessions, tokens, API keys and memberships go with the user; credentials stop working at once. The audit log keeps the event.',
        security: AUTHENTICATED,
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await users.delete(request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/users/:id/verify-email',
    {
      config: { permission: 'users:manage' },
      schema: {
        tags: ['admin'],
        summary: "Mark a user's email verified",
        security: AUTHENTICATED,
        params: IdParams,
        response: { 200: AdminUserRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => users.verifyEmail(request.params.id, actorOf(request)),
  );

  app.post(
    '/users/:id/ban',
    {
      config: { permission: 'users:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Ban a user for a while (or until a time, or indefinitely)',
        description: 'Revokes every session, access token and API key at once and emails the user. A timed ban lifts itself.',
        security: AUTHENTICATED,
        params: IdParams,
        body: Type.Object({
          duration_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 * 365 * 86_400, description: 'seconds' })),
          until: Type.Optional(Type.String({ format: 'date-time' })),
          reason: Type.Optional(Type.String({ maxLength: 500 })),
        }),
        response: { 200: AdminUserRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) =>
      users.ban(
        request.params.id,
        { durationSeconds: request.body.duration_s, until: request.body.until, reason: request.body.reason },
        actorOf(request),
      ),
  );

  app.post(
    '/users/:id/unban',
    {
      config: { permission: 'users:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Lift a ban',
        security: AUTHENTICATED,
        params: IdParams,
        response: { 200: AdminUserRef, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => users.unban(request.params.id, actorOf(request)),
  );

  app.get(
    '/users/:id/public',
    {
      config: { auth: 'optional', quotaExempt: true },
      schema: {
        tags: ['users'],
        summary: "A user's public profile",
        description: 'The name and the profile keys listed in PUBLIC_PROFILE_FIELDS; nothing else.',
        params: IdParams,
        response: {
          200: PublicProfileSchema,
          ...problemResponses(400, 404),
        },
      },
    },
    async (request) => users.publicProfile(request.params.id),
  );
};
