/**
 * The MFA API's passkey shape, declared once: the schema validates and documents responses (inline
 * in the OpenAPI document) and {@link PasskeyView} is derived from it with `Static<>`.
 */
import { type Static, Type } from '@sinclair/typebox';

/** A passkey as the API shows it; times ISO-8601 UTC, `last_used_at` null until first use. */
export const PasskeySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  device_type: Type.String({ description: '`singleDevice` or `multiDevice` (synced)' }),
  backed_up: Type.Boolean(),
  transports: Type.Array(Type.String()),
});

/** A passkey as the API shows it (`device_type`: `singleDevice` or `multiDevice`, synced between devices). */
export type PasskeyView = Static<typeof PasskeySchema>;
