/**
 * The identities API's response shapes, declared once: the schemas validate and document the
 * responses (inline in the OpenAPI document), and the service's views are derived from them with
 * `Static<>`. Times are ISO-8601 UTC strings.
 */
import { type Static, Type } from '@sinclair/typebox';

/** A provider as `GET /auth/providers` lists it. */
export const ProviderSchema = Type.Object({
  name: Type.String(),
  display_name: Type.String(),
  start_url: Type.String({ description: 'Opens the sign-in in a browser; add `?redirect=` to return elsewhere' }),
});

/** A linked provider account as its owner sees it (`email` as the provider gave it, or null). */
export const IdentitySchema = Type.Object({
  id: Type.String(),
  provider: Type.String(),
  display_name: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  email_verified: Type.Boolean(),
  linked_at: Type.String({ format: 'date-time' }),
  last_sign_in_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

/** A provider as `GET /auth/providers` lists it; `start_url` is absolute (add `?redirect=`). */
export type ProviderView = Static<typeof ProviderSchema>;

/** A linked provider account as its owner sees it. */
export type IdentityView = Static<typeof IdentitySchema>;
