/**
 * `GET /api/v1/meta`: what a frontend (the built-in web app or one at FRONTEND_URL) needs to
 * know about this deployment before anyone signs in — its name and version, the sign-in
 * providers, which features and modules are on, and the limits forms should enforce.
 */
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { PRODUCT_SUMMARY } from '../shared/product.js';

/** The `Meta` component of /openapi.json. */
export const MetaSchema = Type.Object(
  {
    app: Type.Object({
      name: Type.String({ description: 'APP_NAME' }),
      description: Type.String({ description: 'APP_DESCRIPTION, or a sentence on what Gatehouse serves' }),
      version: Type.String(),
      site_url: Type.Union([Type.String(), Type.Null()], { description: 'SITE_URL' }),
      docs_url: Type.String({ description: 'Interactive API documentation (Swagger UI)' }),
      openapi_url: Type.String(),
    }),
    providers: Type.Array(Type.Object({ name: Type.String(), display_name: Type.String() }), { description: 'Enabled social sign-in providers, in display order' }),
    features: Type.Object(
      {
        registration: Type.Boolean({ description: 'Anyone may sign up (POST /api/v1/auth/register)' }),
        email_verification_required: Type.Boolean({ description: 'AUTH_REQUIRE_EMAIL_VERIFICATION' }),
        social_sign_in: Type.Boolean(),
        totp: Type.Boolean(),
        passkeys: Type.Boolean(),
        built_in_app: Type.Boolean({ description: 'false when FRONTEND_URL points at an external frontend' }),
      },
      { additionalProperties: Type.Boolean(), description: 'Platform features, plus one `true` entry per enabled feature module (e.g. `challenges`)' },
    ),
    modules: Type.Array(Type.Object({ name: Type.String(), description: Type.String() })),
    limits: Type.Object({
      file_max_bytes: Type.Integer({ description: 'FILE_MAX_BYTES: the largest upload' }),
      storage_quota_bytes: Type.Integer({ description: 'STORAGE_QUOTA_BYTES per user (0: unlimited)' }),
      password_min_score: Type.Integer({ description: 'AUTH_PASSWORD_MIN_SCORE (zxcvbn 0–4)' }),
      api_key_max_ttl_seconds: Type.Integer({ description: 'API_KEY_MAX_TTL_SECONDS (0: keys may not expire)' }),
    }),
  },
  { $id: 'Meta' },
);

/** The meta document. */
export type MetaView = Static<typeof MetaSchema>;

/** What {@link buildMeta} reads (from the configuration and the running Gatehouse). */
export interface MetaSources {
  appName: string;
  appDescription: string | null;
  version: string;
  siteUrl: string | null;
  frontendUrl: string | null;
  requireEmailVerification: boolean;
  passwordMinScore: number;
  apiKeyMaxTtlSeconds: number;
  fileMaxBytes: number;
  storageQuotaBytes: number;
  providers: ReadonlyArray<{ name: string; display_name: string }>;
  modules: ReadonlyArray<{ name: string; description: string }>;
}

/** Builds the meta document (a pure function: the route caches its result for the process's life). */
export function buildMeta(sources: MetaSources): MetaView {
  const features: MetaView['features'] & Record<string, boolean> = {
    registration: true,
    email_verification_required: sources.requireEmailVerification,
    social_sign_in: sources.providers.length > 0,
    totp: true,
    passkeys: true,
    built_in_app: sources.frontendUrl === null,
  };
  for (const module of sources.modules) features[module.name] = true;
  return {
    app: {
      name: sources.appName,
      description: sources.appDescription ?? `A Gatehouse server: ${PRODUCT_SUMMARY}.`,
      version: sources.version,
      site_url: sources.siteUrl,
      docs_url: '/docs',
      openapi_url: '/openapi.json',
    },
    providers: sources.providers.map(({ name, display_name }) => ({ name, display_name })),
    features,
    modules: sources.modules.map(({ name, description }) => ({ name, description })),
    limits: {
      file_max_bytes: sources.fileMaxBytes,
      storage_quota_bytes: sources.storageQuotaBytes,
      password_min_score: sources.passwordMinScore,
      api_key_max_ttl_seconds: sources.apiKeyMaxTtlSeconds,
    },
  };
}
