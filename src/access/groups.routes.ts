/** `/api/v1/groups`: groups, their permissions and policy, and memberships. HTTP only. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../http/actor.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import type { AccessService } from './access.service.js';
import { GroupSchema } from './access.views.js';

/** Options for {@link groupsRoutes}. */
export interface GroupsRoutesOptions {
  access: AccessService;
}

const NullableSeconds = (description: string) =>
  Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100 * 365 * 86_400 }), Type.Null()], { description }));
const NullableCount = (description: string) =>
  Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), Type.Null()], { description }));

const GroupFields = {
  description: Type.Optional(Type.String({ maxLength: 500 })),
  permissions: Type.Optional(Type.Array(Type.String({ maxLength: 130 }), { maxItems: 200 })),
  session_ttl_seconds: NullableSeconds('Session lifetime for members; 0 = never expires; null = default'),
  api_key_max_ttl_seconds: NullableSeconds('Longest API key lifetime; 0 = non-expiring allowed; null = default'),
  quota_per_hour: NullableCount('API calls per hour; 0 = unlimited; null = default'),
  quota_per_day: NullableCount('API calls per day; 0 = unlimited; null = default'),
  storage_quota_bytes: Type.Optional(
    Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()], {
      description: 'Bytes of stored files each member may own; 0 = unlimited; null = default (STORAGE_QUOTA_BYTES)',
    }),
  ),
  require_mfa: Type.Optional(
    Type.Boolean({ description: 'Members must turn on two-factor authentication (TOTP); until they do, everything but enrolment answers 403 mfa_enrollment_required' }),
  ),
};



const GroupParams = Type.Object({ group: Type.String({ maxLength: 100, description: 'Group id or name' }) });

export const groupsRoutes: FastifyPluginAsyncTypebox<GroupsRoutesOptions> = async (app, { access }) => {
  app.addSchema(GroupSchema);
  const GroupRef = Type.Ref('Group');

  app.get(
    '/groups',
    {
      config: { permission: 'groups:manage' },
      schema: {
        tags: ['admin'],
        summary: 'List groups',
        security: AUTHENTICATED,
        response: { 200: Type.Object({ items: Type.Array(GroupRef) }), ...problemResponses(401, 403) },
      },
    },
    async () => ({ items: await access.listGroups() }),
  );

  app.post(
    '/groups',
    {
      config: { permission: 'groups:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Create a group',
        security: AUTHENTICATED,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), ...GroupFields }),
        response: { 201: GroupRef, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await access.createGroup(request.body, actorOf(request))),
  );

  app.get(
    '/groups/:group',
    {
      config: { permission: 'groups:manage' },
      schema: {
        tags: ['admin'],
        summary: 'One group',
        security: AUTHENTICATED,
        params: GroupParams,
        response: { 200: GroupRef, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => access.getGroup(request.params.group),
  );

  app.patch(
    '/groups/:group',
    {
      config: { permission: 'groups:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Change a group (members get the new permissions and policy on their next request)',
        security: AUTHENTICATED,
        params: GroupParams,
        body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), ...GroupFields }),
        response: { 200: GroupRef, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => access.updateGroup(request.params.group, request.body, actorOf(request)),
  );

  app.delete(
    '/groups/:group',
    {
      config: { permission: 'groups:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Delete a group',
        security: AUTHENTICATED,
        params: GroupParams,
        response: { 204: Type.Null(), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await access.deleteGroup(request.params.group, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  for (const [method, member] of [['put', true], ['delete', false]] as const) {
    app[method](
      '/groups/:group/members/:user_id',
      {
        config: { permission: 'users:manage' },
        schema: {
          tags: ['admin'],
          summary: member ? 'Add a user to a group' : 'Remove a user from a group',
          security: AUTHENTICATED,
          params: Type.Object({ group: GroupParams.properties.group, user_id: Type.String({ format: 'uuid' }) }),
          response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await access.setMembership(request.params.group, request.params.user_id, member, actorOf(request));
        return reply.code(204).send(null);
      },
    );
  }
};
