/** `/api/v1/tallies`: HTTP only; logic lives in TallyService. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { requirePrincipal } from '../../src/http/authenticate.js';
import { AUTHENTICATED, problemResponses } from '../../src/http/schemas.js';
import type { TallyService } from './tally.service.js';

const TallySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    owner_id: Type.String({ format: 'uuid' }),
    numbers: Type.Array(Type.Number()),
    status: Type.Union([Type.Literal('pending'), Type.Literal('done'), Type.Literal('failed')]),
    result: Type.Union([Type.Object({ sum: Type.Number(), count: Type.Integer() }), Type.Null()]),
    job_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Tally' },
);

/** Registers `POST /tallies`, `GET /tallies/{id}` and `DELETE /tallies/{id}` on `api` (mounted under `/api/v1`). */
export async function tallyRoutes(api: FastifyInstance, tallies: TallyService): Promise<void> {
  const app = api.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(TallySchema);
  const tags = ['tallies (example module)'];

  app.post(
    '/tallies',
    {
      config: { auth: 'required', permission: 'tallies:write' },
      schema: {
        tags,
        summary: 'Ask for the sum of some numbers; a worker computes it',
        security: AUTHENTICATED,
        body: Type.Object({ numbers: Type.Array(Type.Number(), { maxItems: 100_000 }) }, { additionalProperties: false }),
        response: { 202: Type.Ref('Tally'), ...problemResponses(400, 401, 403, 422) },
      },
    },
    async (request, reply) => reply.code(202).send(await tallies.create(requirePrincipal(request), request.body.numbers)),
  );

  app.get(
    '/tallies/:id',
    {
      config: { auth: 'required', permission: 'tallies:write' },
      schema: {
        tags,
        summary: 'One of your tallies',
        security: AUTHENTICATED,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: Type.Ref('Tally'), ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => tallies.get(requirePrincipal(request), request.params.id),
  );

  app.delete(
    '/tallies/:id',
    {
      config: { auth: 'required', permission: 'tallies:write' },
      schema: {
        tags,
        summary: 'Delete one of your tallies, with its live events',
        security: AUTHENTICATED,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 204: Type.Null(), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await tallies.remove(requirePrincipal(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
}
