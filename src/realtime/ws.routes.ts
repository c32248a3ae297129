/**
 * `GET /api/v1/ws`: live job events over a WebSocket (RFC 6455). HTTP only; authorisation,
 * replay and delivery live in {@link LiveEvents}, shared with the SSE route.
 *
 * The upgrade request goes through the normal hooks: authentication (cookie or bearer) and the
 * Origin check that cookie-authenticated upgrades get like unsafe requests (Cross-Site WebSocket
 * Hijacking), so a refused upgrade is an ordinary 401/403 problem response.
 *
 * Client messages: `{"type":"subscribe","topics":[…],"after"?:<event id>}`,
 * `{"type":"unsubscribe","topics":[…]}`. Server messages: `{"type":"subscribed","topics"}`,
 * `{"type":"unsubscribed","topics"}`, `{"type":"event","event"}`, `{"type":"error","code","detail"}`
 * (the socket stays open after an error, except the two below).
 *
 * Each subscribe re-reads the credential the socket was opened with; when it was revoked (or
 * when a revocation is announced while the socket is open, on this instance or another) the
 * server sends `{"type":"error","code":"session_expired"}` and closes with 4401 "credential
 * revoked". A user holding REALTIME_MAX_CONNECTIONS_PER_USER connections gets a 429 problem
 * response to the upgrade.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { requirePrincipal } from '../http/authenticate.js';
import { AppError, isAppError } from '../shared/errors.js';
import { parseTopic, topicKey } from '../jobs/model.js';
import { type LiveEvents, parseEventId } from './event-stream.js';

/** Options for {@link wsRoutes}. */
export interface WsRoutesOptions {
  live: LiveEvents;
}

/** Unsent bytes a socket may hold before the client counts as too slow and is dropped. */
export const WS_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Below this the replay goes on sending. */
const WS_RESUME_BYTES = 256 * 1024;
/** Close code for a client that cannot keep up (RFC 6455 §7.4.1: 1008 policy violation). */
const CLOSE_TOO_SLOW = 1008;
/** Close code when the server shuts down (1001 going away). */
const CLOSE_GOING_AWAY = 1001;
/**
 * Close code when the credential the socket was opened with is revoked (logout, password change,
 * ban, deactivation, key revocation): 4401, in the private range (RFC 6455 §7.4.2), echoing 401.
 */
export const CLOSE_CREDENTIAL_REVOKED = 4401;
/** Close code when the user already holds REALTIME_MAX_CONNECTIONS_PER_USER connections (4429, echoing 429). */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;
/** Close reason sent with {@link CLOSE_CREDENTIAL_REVOKED}. */
const REVOKED_REASON = 'credential revoked';

/** A message the client sent, after JSON parsing. */
type ClientMessage =
  | { type: 'subscribe'; topics: string[]; after: number | null }
  | { type: 'unsubscribe'; topics: string[] };

/** Checks the shape of a client message. @throws AppError (400) naming what is wrong. */
function parseClientMessage(text: string, maxTopics: number): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('malformed_json', 'Messages are JSON objects.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppError('malformed_json', 'Messages are JSON objects.');
  }
  const message = value as Record<string, unknown>;
  if (message.type !== 'subscribe' && message.type !== 'unsubscribe') {
    throw new AppError('bad_request', 'type must be "subscribe" or "unsubscribe".');
  }
  const topics = message.topics;
  if (!Array.isArray(topics) || !topics.length || !topics.every((t) => typeof t === 'string' && t.length <= 200)) {
    throw new AppError('validation_failed', 'topics must be a non-empty array of job:{id} / queue:{name} strings.');
  }
  if (topics.length > maxTopics) throw new AppError('validation_failed', `At most ${maxTopics} topics per connection.`);
  if (message.type === 'unsubscribe') return { type: 'unsubscribe', topics: topics as string[] };
  return { type: 'subscribe', topics: topics as string[], after: parseEventId(message.after, 'after') };
}

/** Resolves true when the socket's send buffer has room again, false once it closed (polled: `ws` has no drain event). */
async function drained(socket: WebSocket): Promise<boolean> {
  while (socket.readyState === socket.OPEN && socket.bufferedAmount > WS_RESUME_BYTES) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return socket.readyState === socket.OPEN;
}

/** `GET /api/v1/ws`: a WebSocket taking subscribe/unsubscribe messages for job and queue topics. */
export const wsRoutes: FastifyPluginAsync<WsRoutesOptions> = async (app, { live }) => {

  app.get(
    '/ws',
    {
      websocket: true,
      // `events:read` follows your own jobs; `jobs:manage` every job; `jobs:claim` the jobs a worker key holds.
      config: { permission: ['events:read', 'jobs:manage', 'jobs:claim'] },
      schema: { hide: true },
      // Over the per-user cap the upgrade is refused with a plain 429 problem response.
      preHandler: async (request) => {
        live.assertMayConnect(requirePrincipal(request));
      },
    },
    (socket, request) => {
      const principal = requirePrincipal(request);
      const sendJson = (message: unknown) => {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(JSON.stringify(message));
        if (socket.bufferedAmount > WS_MAX_BUFFERED_BYTES) socket.close(CLOSE_TOO_SLOW, 'too slow');
      };
      const sendError = (error: unknown) => {
        const appError = isAppError(error) ? error : new AppError('internal_error');
        if (!isAppError(error)) request.log.warn({ err: error }, 'websocket message failed');
        sendJson({ type: 'error', code: appError.code, detail: appError.detail ?? appError.message });
      };
      const revoked = () => {
        sendError(new AppError('session_expired', 'The session or API key this socket was opened with was revoked.'));
        socket.close(CLOSE_CREDENTIAL_REVOKED, REVOKED_REASON);
      };
      let opened: ReturnType<LiveEvents['open']>;
      try {
        opened = live.open(
          principal,
          {
            send: (event) => sendJson({ type: 'event', event }),
            drained: () => drained(socket),
            overflow: () => socket.close(CLOSE_TOO_SLOW, 'too slow'),
          },
          { disconnect: () => socket.close(CLOSE_GOING_AWAY, 'server shutting down'), revoked },
        );
      } catch (error) {
        // Another upgrade of the same user won the last slot after the preHandler's check.
        sendError(error);
        socket.close(CLOSE_TOO_MANY_CONNECTIONS, 'too many connections');
        return;
      }
      const { subscription, release } = opened;

      // Liveness through the shared interval: a socket that has not answered the previous ping
      // by the next tick is dead (RFC 6455 §5.5.2-3).
      let alive = true;
      socket.on('pong', () => {
        alive = true;
      });
      const stopKeepAlive = live.keepAlive.add(() => {
        if (!alive) {
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      });
      socket.on('close', () => {
        stopKeepAlive();
        release();
      });

      // Messages are handled one after another so replies keep the order of requests.
      let pending: Promise<void> = Promise.resolve();
      const handle = async (text: string) => {
        try {
          const message = parseClientMessage(text, live.maxTopics);
          if (message.type === 'unsubscribe') {
            // The same normal form as subscribe (job ids lower-cased), so `job:ABC…` finds `job:abc…`.
            const keys = message.topics.map((t) => {
              const topic = parseTopic(t.trim());
              return topic ? topicKey(topic) : t.trim();
            });
            subscription.remove(keys);
            sendJson({ type: 'unsubscribed', topics: keys });
            return;
          }
          // The credential may have been revoked where no notification reached us: ask the database.
          if (!(await live.credentialHolds(principal))) {
            revoked();
            return;
          }
          const granted = await live.authorize(principal, message.topics, subscription.topicKeys);
          // Confirmed once the hub subscription exists and before the replay: "subscribed" comes
          // ahead of the topics' events, and anything committed after it is delivered.
          await subscription.add(granted, message.after, () => sendJson({ type: 'subscribed', topics: granted.map((g) => g.key) }));
        } catch (error) {
          sendError(error);
        }
      };
      socket.on('message', (data, isBinary) => {
        if (isBinary) {
          sendError(new AppError('bad_request', 'Send text messages (JSON).'));
          return;
        }
        const text = Array.isArray(data)
          ? Buffer.concat(data).toString('utf8')
          : Buffer.isBuffer(data)
            ? data.toString('utf8')
            : Buffer.from(new Uint8Array(data)).toString('utf8');
        pending = pending.then(() => handle(text));
      });
    },
  );
};
