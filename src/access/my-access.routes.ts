/** `GET /api/v1/users/me/permissions`: what the caller may do, for frontends. HTTP only. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { requirePrincipal } from '../http/authenticate.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';

/** The body of `GET /users/me/permissions`. */
export const MyPermissionsSchema = Type.Object(
  {
    role: Type.Union([Type.Literal('user'), Type.Literal('admin'), Type.Literal('worker')]),
    groups: Type.Array(Type.String(), { description: 'Names of your groups' }),
    permissions: Type.Array(Type.String(), {
      description:
        'What this request may do, sorted: your role\'s and groups\' grants, narrowed to the key\'s scopes when you call with an API key. Grants may be wildcards: `*` (everything) or `resource:*`.',
    }),
  },
  { $id: 'MyPermissions' },
);

/**
 * Registers `GET /users/me/permissions` (mount under `/api/v1`): the effective permissions the
 * authentication step already computed for the request (role + groups, cached and invalidated on
 * role, group and membership changes by the access service), so a frontend can show only what the
 * user may do. The server still checks every call.
 */
export const myAccessRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(MyPermissionsSchema);
  app.get(
    '/users/me/permissions',
    {
      config: { auth: 'required', quotaExempt: true },
      schema: {
        tags: ['users'],
        summary: 'Your effective permissions (role and groups; narrowed to the scopes of an API key)',
        security: AUTHENTICATED,
        response: { 200: Type.Ref('MyPermissions'), ...problemResponses(401) },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return {
        role: principal.user.role as 'user' | 'admin' | 'worker',
        groups: [...principal.access.groups].sort(),
        permissions: [...principal.permissions].sort(),
      };
    },
  );
};
