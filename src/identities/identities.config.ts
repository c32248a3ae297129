/**
 * The identities feature's configuration section: which sign-in providers are enabled, read
 * from environment variables (documented in the README, "Social sign-in").
 *
 * One scheme for every provider:
 * - any OpenID Connect issuer, found by discovery: `OIDC_<NAME>_ISSUER`, `OIDC_<NAME>_CLIENT_ID`,
 *   `OIDC_<NAME>_CLIENT_SECRET`, optional `OIDC_<NAME>_SCOPES` (default `openid email profile`)
 *   and `OIDC_<NAME>_DISPLAY_NAME` (default: `<NAME>` capitalised, `_` as a space). The provider is called `<name>` in lower
 *   case, `_` as `-` (`OIDC_MY_IDP_…` → `my-idp`).
 * - presets, enabled by `<PRESET>_CLIENT_ID` and `<PRESET>_CLIENT_SECRET` (`GITHUB`, `GOOGLE`,
 *   `GITLAB`, `MICROSOFT`, `APPLE`, `FACEBOOK`), with optional `<PRESET>_SCOPES` and
 *   `<PRESET>_DISPLAY_NAME`, and the preset's own extras (`GITLAB_ISSUER`, `MICROSOFT_TENANT`,
 *   `GITHUB_URL`, `GITHUB_API_URL`, `FACEBOOK_GRAPH_URL`).
 * - `AUTH_REDIRECT_ORIGINS`: origins besides PUBLIC_URL's that `redirect` may point to.
 *
 * Pure: reads only the variables it is handed (src/config.ts passes the environment).
 */
import { ConfigError } from '../config.js';

/** How Gatehouse talks to a provider. */
export type ProviderProtocol =
  /** OpenID Connect: discovery, ID token (nonce), userinfo. */
  | 'oidc'
  /** GitHub's OAuth 2.0 apps: the user and their verified emails from its REST API. */
  | 'github'
  /** Facebook Login (OAuth 2.0): the user from the Graph API. */
  | 'facebook';

/** One enabled sign-in provider. */
export interface ProviderSettings {
  /** `[a-z][a-z0-9-]*`: in URLs (`/auth/oauth/{name}/start`) and stored on each identity. */
  name: string;
  /** Shown on buttons (`Sign in with <displayName>`). */
  displayName: string;
  protocol: ProviderProtocol;
  /** OIDC issuer identifier (discovery at `<issuer>/.well-known/openid-configuration`); OAuth 2.0 presets: null. */
  issuer: string | null;
  clientId: string;
  clientSecret: string;
  /** Scopes requested at the authorization endpoint. */
  scopes: string[];
  /** OAuth 2.0 presets: the provider's endpoints. */
  endpoints: { authorization: string; token: string; api: string } | null;
  /** `form_post` for providers that POST the authorization response back (Apple). */
  responseMode: 'query' | 'form_post';
}

/** The identities section of the configuration. */
export interface IdentitiesConfig {
  /** Enabled providers, in a stable order (presets first, then OIDC_ providers by name). */
  providers: ProviderSettings[];
  /** Origins (scheme://host[:port]) that `redirect` may point to, besides PUBLIC_URL's. */
  redirectOrigins: string[];
}

/** A preset: what is known of a provider beyond its client credentials. */
interface Preset {
  displayName: string;
  protocol: ProviderProtocol;
  scopes: string;
  issuer?: (env: Env) => string;
  endpoints?: (env: Env) => { authorization: string; token: string; api: string };
  responseMode?: 'form_post';
  /** Extra variables the preset reads (validated as URLs or names). */
  extras?: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

const trimSlash = (u: string) => u.replace(/\/+$/, '');

/** Microsoft's tenant-independent issuers of personal accounts (`consumers`). */
const MICROSOFT_CONSUMERS_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

/** The presets, by variable prefix. */
export const PRESETS: Readonly<Record<string, Preset>> = {
  GITHUB: {
    displayName: 'GitHub',
    protocol: 'github',
    scopes: 'read:user user:email',
    endpoints: (env) => {
      const web = trimSlash(env.GITHUB_URL || 'https://github.com');
      return {
        authorization: `${web}/login/oauth/authorize`,
        token: `${web}/login/oauth/access_token`,
        api: trimSlash(env.GITHUB_API_URL || 'https://api.github.com'),
      };
    },
    extras: ['GITHUB_URL', 'GITHUB_API_URL'],
  },
  GOOGLE: { displayName: 'Google', protocol: 'oidc', scopes: 'openid email profile', issuer: () => 'https://accounts.google.com' },
  GITLAB: {
    displayName: 'GitLab',
    protocol: 'oidc',
    scopes: 'openid email profile',
    issuer: (env) => trimSlash(env.GITLAB_ISSUER || 'https://gitlab.com'),
    extras: ['GITLAB_ISSUER'],
  },
  MICROSOFT: {
    displayName: 'Microsoft',
    protocol: 'oidc',
    scopes: 'openid email profile',
    issuer: (env) => {
      const tenant = env.MICROSOFT_TENANT || 'consumers';
      return `https://login.microsoftonline.com/${tenant === 'consumers' ? MICROSOFT_CONSUMERS_TENANT : tenant}/v2.0`;
    },
    extras: ['MICROSOFT_TENANT'],
  },
  APPLE: { displayName: 'Apple', protocol: 'oidc', scopes: 'openid email name', issuer: () => 'https://appleid.apple.com', responseMode: 'form_post' },
  FACEBOOK: {
    displayName: 'Facebook',
    protocol: 'facebook',
    scopes: 'email public_profile',
    endpoints: (env) => {
      const graph = trimSlash(env.FACEBOOK_GRAPH_URL || 'https://graph.facebook.com/v19.0');
      const version = /\/(v\d+\.\d+)$/.exec(graph)?.[1] ?? 'v19.0';
      return {
        authorization: `https://www.facebook.com/${version}/dialog/oauth`,
        token: `${graph}/oauth/access_token`,
        api: graph,
      };
    },
    extras: ['FACEBOOK_GRAPH_URL'],
  },
};

const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const ORIGIN = /^https?:\/\/[^/\s?#]+$/i;

/** True for an http(s) URL; plain http only for loopback hosts (tests, local development). */
function isAllowedUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** True when `key` is one of the variables this section reads (for `gatehouse config show`). */
export function isIdentityVariable(key: string): boolean {
  if (key === 'AUTH_REDIRECT_ORIGINS') return true;
  if (/^OIDC_[A-Z0-9_]+_(ISSUER|CLIENT_ID|CLIENT_SECRET|SCOPES|DISPLAY_NAME)$/.test(key)) return true;
  for (const [prefix, preset] of Object.entries(PRESETS)) {
    if ([`${prefix}_CLIENT_ID`, `${prefix}_CLIENT_SECRET`, `${prefix}_SCOPES`, `${prefix}_DISPLAY_NAME`, ...(preset.extras ?? [])].includes(key)) return true;
  }
  return false;
}

function scopesOf(value: string | undefined, fallback: string): string[] {
  return (value?.trim() || fallback).split(/[\s,]+/).filter(Boolean);
}

/**
 * Reads the identities section from `env`.
 * @param env the environment (`.env` merged in).
 * @throws ConfigError naming every invalid or incomplete variable: a client id without its
 *   secret (or the reverse), an issuer that is not https (http only on loopback), an OIDC
 *   provider without issuer or client id, a provider name used twice, a malformed origin.
 */
export function identitiesConfig(env: Env): IdentitiesConfig {
  const problems: string[] = [];
  const providers: ProviderSettings[] = [];
  const value = (key: string) => {
    const v = env[key];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  for (const [prefix, preset] of Object.entries(PRESETS)) {
    const clientId = value(`${prefix}_CLIENT_ID`);
    const clientSecret = value(`${prefix}_CLIENT_SECRET`);
    if (!clientId && !clientSecret) continue;
    if (!clientId) problems.push(`${prefix}_CLIENT_ID: required when ${prefix}_CLIENT_SECRET is set`);
    if (!clientSecret) problems.push(`${prefix}_CLIENT_SECRET: required when ${prefix}_CLIENT_ID is set`);
    for (const extra of preset.extras ?? []) {
      const v = value(extra);
      if (v && /_URL$|_ISSUER$/.test(extra) && !isAllowedUrl(v)) problems.push(`${extra}: must be an https:// URL (http:// only for localhost)`);
      if (v && extra === 'MICROSOFT_TENANT' && !/^[A-Za-z0-9.-]+$/.test(v)) problems.push(`${extra}: must be a tenant id or domain`);
    }
    if (value('MICROSOFT_TENANT') && ['common', 'organizations'].includes(value('MICROSOFT_TENANT') as string) && prefix === 'MICROSOFT') {
      problems.push('MICROSOFT_TENANT: common and organizations have no single issuer to verify ID tokens against; use consumers or your tenant id');
    }
    if (!clientId || !clientSecret) continue;
    providers.push({
      name: prefix.toLowerCase(),
      displayName: value(`${prefix}_DISPLAY_NAME`) ?? preset.displayName,
      protocol: preset.protocol,
      issuer: preset.issuer?.(env) ?? null,
      clientId,
      clientSecret,
      scopes: scopesOf(value(`${prefix}_SCOPES`), preset.scopes),
      endpoints: preset.endpoints?.(env) ?? null,
      responseMode: preset.responseMode ?? 'query',
    });
  }

  const oidcNames = new Set<string>();
  for (const key of Object.keys(env).sort()) {
    const match = /^OIDC_([A-Z0-9_]+)_(ISSUER|CLIENT_ID|CLIENT_SECRET|SCOPES|DISPLAY_NAME)$/.exec(key);
    if (match?.[1] && value(key) !== undefined) oidcNames.add(match[1]);
  }
  for (const raw of oidcNames) {
    const p = `OIDC_${raw}`;
    const name = raw.toLowerCase().replaceAll('_', '-');
    const issuer = value(`${p}_ISSUER`);
    const clientId = value(`${p}_CLIENT_ID`);
    const clientSecret = value(`${p}_CLIENT_SECRET`);
    if (!PROVIDER_NAME.test(name)) problems.push(`${p}_*: the provider name "${name}" must start with a letter (letters, digits and _ after it)`);
    if (providers.some((provider) => provider.name === name)) problems.push(`${p}_*: the provider name "${name}" is a preset's; use ${raw}_CLIENT_ID or another name`);
    if (!issuer) problems.push(`${p}_ISSUER: required for the OIDC provider ${name}`);
    else if (!isAllowedUrl(issuer)) problems.push(`${p}_ISSUER: must be an https:// URL (http:// only for localhost)`);
    if (!clientId) problems.push(`${p}_CLIENT_ID: required for the OIDC provider ${name}`);
    if (!clientSecret) problems.push(`${p}_CLIENT_SECRET: required for the OIDC provider ${name}`);
    if (!issuer || !clientId || !clientSecret) continue;
    const scopes = scopesOf(value(`${p}_SCOPES`), 'openid email profile');
    if (!scopes.includes('openid')) problems.push(`${p}_SCOPES: must include openid`);
    providers.push({
      name,
      displayName: value(`${p}_DISPLAY_NAME`) ?? raw.charAt(0) + raw.slice(1).toLowerCase().replaceAll('_', ' '),
      protocol: 'oidc',
      // Kept exactly as given: discovery compares it with the provider's own `issuer`.
      issuer,
      clientId,
      clientSecret,
      scopes,
      endpoints: null,
      responseMode: 'query',
    });
  }

  const redirectOrigins: string[] = [];
  for (const origin of (value('AUTH_REDIRECT_ORIGINS') ?? '').split(',').map((o) => o.trim()).filter(Boolean)) {
    if (!ORIGIN.test(origin)) problems.push(`AUTH_REDIRECT_ORIGINS: "${origin}" is not an origin (scheme://host[:port], no path)`);
    else redirectOrigins.push(new URL(origin).origin);
  }
  if (problems.length) throw new ConfigError(problems);
  return { providers, redirectOrigins };
}
