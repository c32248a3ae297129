/**
 * `GET /api/v1/events`: live job events as Server-Sent Events (WHATWG HTML §9.2). HTTP only;
 * authorisation, replay and delivery live in {@link LiveEvents}.
 *
 * Everything that can fail (authentication, topics, `Last-Event-ID`) is checked before the
 * response is hijacked, so failures are ordinary problem documents; after that the raw stream is
 * ours and neither the error handler nor `onSend` hooks touch it.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { requirePrincipal } from '../http/authenticate.js';
import { type ProblemDocument, problemFor } from '../http/problem.js';
import { AUTHENTICATED, problemResponses } from '../http/schemas.js';
import { AppError } from '../shared/errors.js';
import { isTopicEvent, type LiveEventView } from '../event-log/events.js';
import { type LiveEvents, parseEventId } from './event-stream.js';

/** Options for {@link eventsRoutes}. */
export interface EventsRoutesOptions {
  live: LiveEvents;
}

/** Unsent bytes a stream may hold before the client counts as too slow and is dropped. */
export const SSE_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Below this the replay goes on writing. */
const SSE_RESUME_BYTES = 256 * 1024;
/** The reconnection delay browsers are told to use (ms). */
export const SSE_RETRY_MS = 2000;

/** One SSE message: `id`, `event: job.<type>`, `data` (the event JSON, one line). */
export function formatSseEvent(event: LiveEventView): string {
  const name = isTopicEvent(event) ? event.type : `job.${event.type}`;
  return `id: ${event.id}\nevent: ${name}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The `detail` of the problem a stream ends with when its credential is revoked. */
export const REVOKED_DETAIL = 'The session or API key this stream was opened with was revoked.';

/** A final SSE message carrying a problem document: `event: error`, `data:` the problem as JSON. */
export function formatSseProblem(problem: ProblemDocument): string {
  return `event: error\ndata: ${JSON.stringify(problem)}\n\n`;
}

/** Resolves true when `raw` has room again, false when it closed first. */
function drained(raw: ServerResponse): Promise<boolean> {
  if (raw.destroyed || raw.writableEnded) return Promise.resolve(false);
  if (raw.writableLength <= SSE_RESUME_BYTES) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      raw.off('drain', onDrain);
      raw.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    raw.on('drain', onDrain);
    raw.on('close', onClose);
  });
}

/** `GET /api/v1/events`: Server-Sent Events for job and queue topics, resumable with `Last-Event-ID`. */
export const eventsRoutes: FastifyPluginAsyncTypebox<EventsRoutesOptions> = async (app, { live }) => {

  app.get(
    '/events',
    {
      // `events:read` follows your own jobs; `jobs:manage` every job; `jobs:claim` the jobs a worker key holds.
      config: { permission: ['events:read', 'jobs:manage', 'jobs:claim'] },
      schema: {
        tags: ['jobs'],
        summary: 'Live job events (Server-Sent Events)',
        description:
          'A `text/event-stream` of job events for the topics named: `job:{id}` (the owner, `jobs:manage`, or the worker holding it) and `queue:{name}` (`jobs:manage`: every job; holders of the queue\'s enqueue permission: their own jobs). Each message has `id:` (the global event id), `event:` (`job.state`, `job.progress`, `job.log`) and `data:` (the event as JSON). Reconnect with `Last-Event-ID` (or `?last_event_id=`) to get every event after that id first. A `: ping` comment is sent every REALTIME_KEEPALIVE_SECONDS. When the session or API key the stream was opened with is revoked (logout, password change, ban, deactivation, key revocation), the stream ends with an `event: error` message whose data is a problem document (`code` `session_expired`). A user may hold REALTIME_MAX_CONNECTIONS_PER_USER streams and WebSockets at once (429 `too_many_connections` beyond). Feature modules add topic families `<prefix>:{id}` (authorised by the module); their messages have `event:` the module\'s `noun.verb` type and `data:` `{id, topic, seq, type, data, created_at}`, in the same id space as job events.',
        security: AUTHENTICATED,
        querystring: Type.Object({
          topics: Type.String({ minLength: 1, maxLength: 10_000, description: "Comma-separated: job:{id}, queue:{name}, or a module's <prefix>:{id}" }),
          last_event_id: Type.Optional(Type.String({ maxLength: 20, description: 'Like the Last-Event-ID header' })),
        }),
        response: {
          200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: Type.String() } } },
          ...problemResponses(400, 401, 403, 404, 429),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const header = request.headers['last-event-id'];
      const afterId = parseEventId(
        typeof header === 'string' && header !== '' ? header : request.query.last_event_id,
        typeof header === 'string' && header !== '' ? 'Last-Event-ID' : 'last_event_id',
      );
      const granted = await live.authorize(principal, request.query.topics.split(','));
      live.assertMayConnect(principal);

      // From here on the raw response is ours: no serializer, no onSend, no error handler.
      reply.hijack();
      const raw = reply.raw;
      const headers: Record<string, string | number | string[]> = {};
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
      raw.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
        'x-content-type-options': 'nosniff',
      });
      raw.socket?.setNoDelay(true);

      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        raw.end();
      };
      // Slow readers are dropped rather than buffered without bound; they resume with Last-Event-ID.
      const write = (chunk: string) => {
        if (ended || raw.destroyed) return;
        raw.write(chunk);
        if (raw.writableLength > SSE_MAX_BUFFERED_BYTES) raw.destroy();
      };
      const { subscription, release } = live.open(
        principal,
        { send: (event) => write(formatSseEvent(event)), drained: () => drained(raw), overflow: () => raw.destroy() },
        {
          disconnect: end,
          // The credential was revoked: a last `error` event carrying the problem, then the end.
          revoked: () => {
            write(formatSseProblem(problemFor(new AppError('session_expired', REVOKED_DETAIL), request.id)));
            end();
          },
        },
      );
      const stopKeepAlive = live.keepAlive.add(() => write(': ping\n\n'));
      raw.on('close', () => {
        stopKeepAlive();
        release();
      });

      write(`retry: ${SSE_RETRY_MS}\n\n`);
      try {
        await subscription.add(granted, afterId);
      } catch (error) {
        request.log.warn({ err: error }, 'event stream replay failed');
        raw.destroy();
      }
    },
  );
};
