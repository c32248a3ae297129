/**
 * The session shape its owner sees (`GET /api/v1/auth/sessions`), declared once: the schema
 * validates and documents the response (inline in the OpenAPI document) and {@link SessionView}
 * is derived from it with `Static<>`.
 */
import { type Static, Type } from '@sinclair/typebox';

/**
 * A session as shown to its owner: times ISO-8601 UTC; `ip` and `user_agent` as the session's
 * sign-in request gave them (null when unknown); `current` marks the session making the request.
 */
export const SessionSchema = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_seen_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
});

/** A session as shown to its owner. */
export type SessionView = Static<typeof SessionSchema>;
