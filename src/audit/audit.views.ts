/**
 * The audit API's response shapes, declared once: the schemas validate and document the responses
 * of `GET /api/v1/audit` and `GET /api/v1/audit/logins` (inline in the OpenAPI document), and the
 * views {@link AuditLog} returns are derived from them with `Static<>`. Times are ISO-8601 UTC.
 */
import { type Static, Type } from '@sinclair/typebox';

const Nullable = (schema: ReturnType<typeof Type.String>) => Type.Union([schema, Type.Null()]);

/**
 * An audit entry: `action` such as `user.ban`; `actor_id` null for the system or an anonymous
 * caller; `details` the action's own free-form fields.
 */
export const AuditEntrySchema = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  action: Type.String(),
  actor_id: Nullable(Type.String()),
  target_type: Nullable(Type.String()),
  target_id: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  details: Type.Object({}, { additionalProperties: true }),
});

/** A password login attempt: `outcome` is `success`, `invalid_credentials`, `locked`, …; `user_id` null when no account matched. */
export const LoginAttemptSchema = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  email: Type.String(),
  user_id: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  outcome: Type.String(),
});

/** An audit entry as the API shows it; `details` typed as the free-form object the schema allows. */
export type AuditEntryView = Omit<Static<typeof AuditEntrySchema>, 'details'> & { details: Record<string, unknown> };

/** A login attempt as the API shows it. */
export type LoginAttemptView = Static<typeof LoginAttemptSchema>;
