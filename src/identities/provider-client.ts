/**
 * The relying party: talks to sign-in providers through `openid-client` 6 (panva), never by
 * hand. OpenID Connect providers are configured by discovery (OpenID Connect Discovery 1.0)
 * and answer with a verified ID token (signature, issuer, audience, expiry, `nonce`) plus
 * userinfo; GitHub and Facebook are plain OAuth 2.0 (RFC 6749) and answer through their REST
 * APIs. Every flow is the authorization code grant with PKCE S256 (RFC 7636) and `state`.
 *
 * Failures become {@link AppError}s: a provider that cannot be reached is
 * `identity_provider_unavailable` (503); a refused consent is `identity_denied`; a wrong `state`,
 * a replayed or expired code, or an ID token that does not verify is `identity_flow_invalid`.
 */
import type { Configuration } from 'openid-client';
import { AppError } from '../shared/errors.js';
import type { ProviderSettings } from './identities.config.js';

let clientModule: Promise<typeof import('openid-client')> | undefined;
/** openid-client, loaded at the first sign-in: CLI commands never pay for it. */
function loadClient(): Promise<typeof import('openid-client')> {
  return (clientModule ??= import('openid-client'));
}

/** What a provider says about the person who signed in. */
export interface ProviderProfile {
  /** The provider's stable account id (OIDC `sub`, GitHub/Facebook user id). */
  subject: string;
  /** Lower-cased as given; null when the provider gave none. */
  email: string | null;
  /** True only when the provider asserts the email is verified (OIDC `email_verified`, GitHub's verified primary email). */
  emailVerified: boolean;
  /** Display name, if the provider gave one. */
  name: string | null;
}

/** The secrets of one authorization request, kept by the caller until the callback. */
export interface FlowChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** How long one request to a provider may take, in milliseconds. */
const PROVIDER_TIMEOUT_MS = 10_000;

/** True for an http:// URL (allowed only for loopback providers, validated by the config). */
const isPlainHttp = (url: string | null) => !!url && url.startsWith('http://');

/**
 * One client configuration per provider, discovered on first use and cached; a failed discovery
 * is not cached, so a provider that was down is retried at the next sign-in.
 */
export class ProviderClients {
  private readonly configurations = new Map<string, Promise<Configuration>>();

  /**
   * @param redirectUri the callback URL Gatehouse registers with each provider
   *   (`<PUBLIC_URL>/api/v1/auth/oauth/<name>/callback`).
   */
  constructor(private readonly redirectUri: (provider: ProviderSettings) => string) {}

  /** Fresh random `state`, `nonce` and PKCE verifier for one authorization request. */
  async newChecks(): Promise<FlowChecks> {
    const client = await loadClient();
    return { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() };
  }

  /**
   * The provider's authorization URL for one request (code flow, PKCE S256, `state`; `nonce`
   * for OpenID Connect).
   * @throws AppError `identity_provider_unavailable` when discovery fails.
   */
  async authorizationUrl(provider: ProviderSettings, checks: FlowChecks): Promise<URL> {
    const client = await loadClient();
    const config = await this.configuration(provider);
    const parameters: Record<string, string> = {
      redirect_uri: this.redirectUri(provider),
      scope: provider.scopes.join(' '),
      state: checks.state,
      code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
    };
    if (provider.protocol === 'oidc') parameters.nonce = checks.nonce;
    if (provider.responseMode === 'form_post') parameters.response_mode = 'form_post';
    return client.buildAuthorizationUrl(config, parameters);
  }

  /**
   * Completes the authorization code grant from the provider's answer (`callback`: the URL it
   * redirected to, or a form POST for `form_post` providers) and reads who signed in.
   * @throws AppError `identity_denied` (the person or provider refused), `identity_flow_invalid`
   *   (state mismatch, replayed or expired code, ID token that does not verify),
   *   `identity_provider_unavailable` (network failure, 5xx, malformed answers).
   */
  async complete(provider: ProviderSettings, callback: URL | Request, checks: FlowChecks): Promise<ProviderProfile> {
    const client = await loadClient();
    const config = await this.configuration(provider);
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, callback, {
        expectedState: checks.state,
        pkceCodeVerifier: checks.codeVerifier,
        ...(provider.protocol === 'oidc' ? { expectedNonce: checks.nonce, idTokenExpected: true } : { idTokenExpected: false }),
      });
    } catch (error) {
      throw this.translate(provider, error);
    }
    try {
      if (provider.protocol === 'github') return await this.githubProfile(provider, config, tokens.access_token);
      if (provider.protocol === 'facebook') return await this.facebookProfile(provider, config, tokens.access_token);
      return await this.oidcProfile(config, tokens);
    } catch (error) {
      throw this.translate(provider, error);
    }
  }

  private async oidcProfile(
    config: Configuration,
    tokens: { access_token: string; claims(): Record<string, unknown> | undefined },
  ): Promise<ProviderProfile> {
    const client = await loadClient();
    const idClaims = tokens.claims();
    if (!idClaims || typeof idClaims.sub !== 'string') throw new AppError('identity_flow_invalid', 'The provider sent no ID token.');
    let claims: Record<string, unknown> = { ...idClaims };
    // Many providers put email and name only in userinfo (the ID token carries just `sub`).
    if (config.serverMetadata().userinfo_endpoint && (claims.email === undefined || claims.email_verified === undefined)) {
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      claims = { ...userinfo, ...Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined)) };
    }
    const email = typeof claims.email === 'string' && claims.email.includes('@') ? claims.email.trim().toLowerCase() : null;
    // Apple sends `email_verified` as the string "true".
    const verified = claims.email_verified === true || claims.email_verified === 'true';
    const name = typeof claims.name === 'string' ? claims.name : typeof claims.preferred_username === 'string' ? claims.preferred_username : null;
    return { subject: idClaims.sub, email, emailVerified: email !== null && verified, name };
  }

  /** GitHub: `GET /user` and `GET /user/emails`; only a verified primary email counts as verified. */
  private async githubProfile(provider: ProviderSettings, config: Configuration, accessToken: string): Promise<ProviderProfile> {
    const api = provider.endpoints?.api as string;
    const user = (await this.getJson(config, accessToken, `${api}/user`)) as { id?: unknown; login?: unknown; name?: unknown };
    if (typeof user.id !== 'number' && typeof user.id !== 'string') throw new AppError('identity_provider_unavailable', 'GitHub sent no user id.');
    const emails = (await this.getJson(config, accessToken, `${api}/user/emails`)) as Array<{ email?: unknown; primary?: unknown; verified?: unknown }>;
    const list = Array.isArray(emails) ? emails.filter((e) => typeof e.email === 'string') : [];
    const primary = list.find((e) => e.primary === true && e.verified === true) ?? list.find((e) => e.verified === true) ?? list.find((e) => e.primary === true);
    const email = primary ? (primary.email as string).trim().toLowerCase() : null;
    return {
      subject: String(user.id),
      email,
      emailVerified: primary?.verified === true,
      name: typeof user.name === 'string' && user.name ? user.name : typeof user.login === 'string' ? user.login : null,
    };
  }

  /** Facebook: `GET /me?fields=id,name,email`. Facebook does not say whether the email is verified: it never counts as verified. */
  private async facebookProfile(provider: ProviderSettings, config: Configuration, accessToken: string): Promise<ProviderProfile> {
    const api = provider.endpoints?.api as string;
    const me = (await this.getJson(config, accessToken, `${api}/me?fields=id,name,email`)) as { id?: unknown; name?: unknown; email?: unknown };
    if (typeof me.id !== 'string') throw new AppError('identity_provider_unavailable', 'Facebook sent no user id.');
    return {
      subject: me.id,
      email: typeof me.email === 'string' ? me.email.trim().toLowerCase() : null,
      emailVerified: false,
      name: typeof me.name === 'string' ? me.name : null,
    };
  }

  private async getJson(config: Configuration, accessToken: string, url: string): Promise<unknown> {
    const client = await loadClient();
    const response = await client.fetchProtectedResource(config, accessToken, new URL(url), 'GET', undefined, new Headers({ accept: 'application/json' }));
    if (!response.ok) throw new AppError('identity_provider_unavailable', `The provider's API answered ${response.status}.`);
    return response.json();
  }

  /**
   * The provider's client configuration: discovered (OIDC) or built from the preset's endpoints
   * (GitHub, Facebook), with a timeout on every request and plain HTTP allowed for loopback
   * providers only.
   * @throws AppError `identity_provider_unavailable` when discovery fails.
   */
  private configuration(provider: ProviderSettings): Promise<Configuration> {
    let cached = this.configurations.get(provider.name);
    if (!cached) {
      cached = this.build(provider);
      this.configurations.set(provider.name, cached);
      cached.catch(() => this.configurations.delete(provider.name));
    }
    return cached;
  }

  private async build(provider: ProviderSettings): Promise<Configuration> {
    const client = await loadClient();
    const timedFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS) });
    const insecure = isPlainHttp(provider.issuer) || isPlainHttp(provider.endpoints?.token ?? null);
    let config: Configuration;
    if (provider.protocol === 'oidc') {
      let discovered: Configuration;
      try {
        discovered = await client.discovery(new URL(provider.issuer as string), provider.clientId, provider.clientSecret, undefined, {
          [client.customFetch]: timedFetch,
          ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
        });
      } catch (error) {
        throw new AppError('identity_provider_unavailable', `The sign-in provider ${provider.displayName} could not be reached.`, { cause: error });
      }
      // client_secret_basic is the default of RFC 6749 §2.3.1 and OpenID Connect; post only where basic is not offered (Apple).
      const methods = discovered.serverMetadata().token_endpoint_auth_methods_supported;
      const basic = !methods || methods.includes('client_secret_basic');
      config = new client.Configuration(
        discovered.serverMetadata(),
        provider.clientId,
        provider.clientSecret,
        basic ? client.ClientSecretBasic(provider.clientSecret) : client.ClientSecretPost(provider.clientSecret),
      );
      if (insecure) client.allowInsecureRequests(config);
    } else {
      const endpoints = provider.endpoints as NonNullable<ProviderSettings['endpoints']>;
      config = new client.Configuration(
        { issuer: new URL(endpoints.authorization).origin, authorization_endpoint: endpoints.authorization, token_endpoint: endpoints.token },
        provider.clientId,
        provider.clientSecret,
      );
      if (insecure) client.allowInsecureRequests(config);
    }
    config[client.customFetch] = timedFetch;
    return config;
  }

  /** Maps an openid-client failure to the flow's error codes; AppErrors pass through. */
  private translate(provider: ProviderSettings, error: unknown): AppError {
    if (error instanceof AppError) return error;
    const e = error as { name?: string; code?: string; error?: string; error_description?: string; status?: number; message?: string };
    if (e.name === 'AuthorizationResponseError') {
      const detail = e.error_description ? `${e.error}: ${e.error_description}` : (e.error ?? 'error');
      return e.error === 'access_denied'
        ? new AppError('identity_denied', `${provider.displayName} did not grant the sign-in (${detail}).`, { cause: error })
        : new AppError('identity_denied', `${provider.displayName} answered the sign-in with an error (${detail}).`, { cause: error });
    }
    if (e.name === 'ResponseBodyError') {
      if ((e.status ?? 500) < 500 && e.error === 'invalid_grant') {
        return new AppError('identity_flow_invalid', `${provider.displayName} refused the authorization code: it was already used or has expired. Start the sign-in again.`, { cause: error });
      }
      if ((e.status ?? 500) < 500) {
        return new AppError('identity_flow_invalid', `${provider.displayName} refused the token request (${e.error ?? 'error'}). Check the client id and secret.`, { cause: error });
      }
      return new AppError('identity_provider_unavailable', `${provider.displayName} answered with an error (${e.status}).`, { cause: error });
    }
    if (typeof e.code === 'string' && e.code.startsWith('OAUTH_')) {
      const stateProblem = /state/i.test(e.message ?? '');
      if (stateProblem) return new AppError('identity_flow_invalid', 'The sign-in answer does not belong to this sign-in (state mismatch). Start the sign-in again.', { cause: error });
      if (/unexpected HTTP response status code|response.*(5\d\d)|not a conform|JSON/i.test(e.message ?? '') && !/id_token|nonce|claim/i.test(e.message ?? '')) {
        return new AppError('identity_provider_unavailable', `${provider.displayName} sent an answer Gatehouse could not use.`, { cause: error });
      }
      return new AppError('identity_flow_invalid', `${provider.displayName}'s answer did not verify. Start the sign-in again.`, { cause: error });
    }
    return new AppError('identity_provider_unavailable', `The sign-in provider ${provider.displayName} could not be reached.`, { cause: error });
  }
}
