/**
 * The access API's response shapes, declared once: the `ApiKey`, `Group` and `AdminUser` schemas
 * (and the inline public profile) validate and document responses (OpenAPI), and the services'
 * views are derived from them with `Static<>`.
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

/** A user's role. */
export const RoleSchema = Type.Union([Type.Literal('user'), Type.Literal('admin'), Type.Literal('worker')]);
/** A user's account status. */
export const StatusSchema = Type.Union([Type.Literal('active'), Type.Literal('deactivated')]);

/** A free-form JSON object (a user's `profile`). */
const ProfileSchema = Type.Object({}, { additionalProperties: true });

/**
 * `AdminUser` component: a user as administrators see them (the `User` fields plus status, group
 * names and ban); times ISO-8601 UTC, `banned_until` null when not banned.
 */
export const AdminUserSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    name: Type.String(),
    email_verified: Type.Boolean(),
    role: RoleSchema,
    profile: ProfileSchema,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    status: StatusSchema,
    groups: Type.Array(Type.String()),
    banned_until: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    ban_reason: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'AdminUser' },
);

/** The fields of a user anyone may see (`profile` holds only the PUBLIC_PROFILE_FIELDS keys). */
export const PublicProfileSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  profile: ProfileSchema,
});

/** A user as administrators see them; `profile` typed as the free-form object the schema allows. */
export type AdminUserView = Omit<Static<typeof AdminUserSchema>, 'profile'> & { profile: Record<string, unknown> };

/** The fields of a user anyone may see. */
export type PublicProfileView = Omit<Static<typeof PublicProfileSchema>, 'profile'> & { profile: Record<string, unknown> };
