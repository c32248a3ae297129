/**
 * The access API's response shapes, declared once: the `ApiKey` and `Group` schemas validate and
 * document responses (OpenAPI), and the services' views are derived from them with `Static<>`.
 */
import { type Static, Type } from '@sinclair/typebox';

/** `ApiKey` component: a key as listed (never the secret); times ISO-8601 UTC. */
export const ApiKeySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    user_id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    prefix: Type.String({ description: 'Public part of the key: gh_<prefix>_…' }),
    scopes: Type.Array(Type.String()),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'ApiKey' },
);

/** `Group` component: TTLs in seconds and quotas in jobs or bytes, null = the default, 0 = unlimited. */
export const GroupSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    description: Type.String(),
    permissions: Type.Array(Type.String()),
    session_ttl_seconds: Type.Union([Type.Integer(), Type.Null()]),
    api_key_max_ttl_seconds: Type.Union([Type.Integer(), Type.Null()]),
    quota_per_hour: Type.Union([Type.Integer(), Type.Null()]),
    quota_per_day: Type.Union([Type.Integer(), Type.Null()]),
    storage_quota_bytes: Type.Union([Type.Integer(), Type.Null()]),
    require_mfa: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Group' },
);

/** A key as listed (never the secret). */
export type ApiKeyView = Static<typeof ApiKeySchema>;

/** A group as the API shows it (`require_mfa`: members must turn on TOTP before anything else). */
export type GroupView = Static<typeof GroupSchema>;
