/** `/api/v1/outbox`: the notification outbox for operators (list, retry). HTTP only; logic in Outbox. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../audit/audit.service.js';
import type { OutboxRow } from '../db/schema.js';
import { actorOf } from '../http/actor.js';
import { PageOf, PageQuery, readPage, toPage } from '../http/pagination.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import type { Outbox } from '../outbox/outbox.service.js';

/** Options for {@link outboxRoutes}. */
export interface OutboxRoutesOptions {
  outbox: Outbox;
  /** Records `outbox.retry` for each retry asked over HTTP. */
  audit: AuditLog;
}

const Nullable = (schema: ReturnType<typeof Type.String>) => Type.Union([schema, Type.Null()]);
const StatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('sent'), Type.Literal('dead')], {
  description: 'pending: not sent yet (retrying with backoff); sent; dead: attempts exhausted',
});

/** `OutboxMessage` component: a message without its body (emails carry one-time links). */
export const OutboxMessageSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    channel: Type.Union([Type.Literal('email'), Type.Literal('mattermost'), Type.Literal('webhook')]),
    recipient: Type.String({ description: 'Email address, or the channel name for mattermost and webhook' }),
    subject: Type.String(),
    template: Type.String(),
    status: StatusSchema,
    attempts: Type.Integer(),
    next_attempt_at: Type.String({ format: 'date-time' }),
    last_error: Nullable(Type.String()),
    created_at: Type.String({ format: 'date-time' }),
    sent_at: Nullable(Type.String({ format: 'date-time' })),
  },
  { $id: 'OutboxMessage' },
);

/** The API view of a row: everything but `body` (verification and reset emails carry tokens) and the lease. */
function toView(row: OutboxRow) {
  return {
    id: row.id,
    channel: row.channel,
    recipient: row.recipient,
    subject: row.subject,
    template: row.template,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.next_attempt_at,
    last_error: row.last_error,
    created_at: row.created_at,
    sent_at: row.sent_at,
  };
}

/** Registers `GET /outbox` and `POST /outbox/{id}/retry` (mount under `/api/v1`), both `outbox:manage`. */
export const outboxRoutes: FastifyPluginAsyncTypebox<OutboxRoutesOptions> = async (app, { outbox, audit }) => {
  app.addSchema(OutboxMessageSchema);
  const MessageRef = Type.Ref('OutboxMessage');

  app.get(
    '/outbox',
    {
      config: { permission: 'outbox:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Notification outbox messages, newest first (without bodies)',
        security: AUTHENTICATED,
        querystring: Type.Object({ ...PageQuery, status: Type.Optional(StatusSchema) }),
        response: { 200: PageOf(MessageRef), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { limit, afterId } = readPage(request.query);
      const page = await outbox.page({ status: request.query.status, afterId, limit });
      return toPage({ items: page.items.map(toView), next: page.next });
    },
  );

  app.post(
    '/outbox/:id/retry',
    {
      config: { permission: 'outbox:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Send an unsent (pending or dead) message again now, with a fresh series of attempts',
        description: 'Recorded in the audit log (`outbox.retry`).',
        security: AUTHENTICATED,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: MessageRef, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const message = await outbox.retryMessage(request.params.id);
      await audit.recordNow(actorOf(request), { action: 'outbox.retry', targetType: 'outbox_message', targetId: message.id, details: { channel: message.channel, template: message.template } });
      return toView(message);
    },
  );
};
