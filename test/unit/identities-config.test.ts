/** Unit tests for the social sign-in configuration section (`src/identities/identities.config.ts`). */
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from '../../src/config.js';
import { identitiesConfig, isIdentityVariable } from '../../src/identities/identities.config.js';

function problems(env: Record<string, string>): string[] {
  try {
    identitiesConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('identities config', () => {
  it('enables nothing by default', () => {
    expect(identitiesConfig({})).toEqual({ providers: [], redirectOrigins: [] });
    expect(loadConfig({ DATA_DIR: '/tmp/gh-test' }).identities.providers).toEqual([]);
  });

  it('enables presets by client id and secret, with their issuers, endpoints and scopes', () => {
    const { providers } = identitiesConfig({
      GOOGLE_CLIENT_ID: 'g',
      GOOGLE_CLIENT_SECRET: 'gs',
      GITHUB_CLIENT_ID: 'h',
      GITHUB_CLIENT_SECRET: 'hs',
      GITLAB_CLIENT_ID: 'l',
      GITLAB_CLIENT_SECRET: 'ls',
      GITLAB_ISSUER: 'https://git.example.org',
      MICROSOFT_CLIENT_ID: 'm',
      MICROSOFT_CLIENT_SECRET: 'ms',
      APPLE_CLIENT_ID: 'a',
      APPLE_CLIENT_SECRET: 'as',
      FACEBOOK_CLIENT_ID: 'f',
      FACEBOOK_CLIENT_SECRET: 'fs',
      FACEBOOK_DISPLAY_NAME: 'Meta',
    });
    const byName = Object.fromEntries(providers.map((p) => [p.name, p]));
    expect(providers.map((p) => p.name)).toEqual(['github', 'google', 'gitlab', 'microsoft', 'apple', 'facebook']);
    expect(byName.google).toMatchObject({ protocol: 'oidc', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'], displayName: 'Google' });
    expect(byName.github).toMatchObject({
      protocol: 'github',
      issuer: null,
      endpoints: { authorization: 'https://github.com/login/oauth/authorize', token: 'https://github.com/login/oauth/access_token', api: 'https://api.github.com' },
    });
    expect(byName.gitlab?.issuer).toBe('https://git.example.org');
    expect(byName.microsoft?.issuer).toBe('https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0');
    expect(byName.apple).toMatchObject({ responseMode: 'form_post', scopes: ['openid', 'email', 'name'] });
    expect(byName.facebook).toMatchObject({ protocol: 'facebook', displayName: 'Meta' });
  });

  it('reads any OIDC issuer from OIDC_<NAME>_…', () => {
    const { providers } = identitiesConfig({
      OIDC_MY_IDP_ISSUER: 'https://idp.example.com/realms/main/',
      OIDC_MY_IDP_CLIENT_ID: 'c',
      OIDC_MY_IDP_CLIENT_SECRET: 's',
      OIDC_MY_IDP_SCOPES: 'openid,email',
    });
    expect(providers).toEqual([
      expect.objectContaining({ name: 'my-idp', displayName: 'My idp', issuer: 'https://idp.example.com/realms/main/', scopes: ['openid', 'email'], protocol: 'oidc' }),
    ]);
  });

  it('names every missing or invalid variable', () => {
    expect(problems({ GOOGLE_CLIENT_ID: 'g' })).toEqual(['GOOGLE_CLIENT_SECRET: required when GOOGLE_CLIENT_ID is set']);
    expect(problems({ OIDC_CORP_CLIENT_ID: 'c' })).toEqual([
      'OIDC_CORP_ISSUER: required for the OIDC provider corp',
      'OIDC_CORP_CLIENT_SECRET: required for the OIDC provider corp',
    ]);
    expect(problems({ OIDC_CORP_ISSUER: 'http://idp.example.com', OIDC_CORP_CLIENT_ID: 'c', OIDC_CORP_CLIENT_SECRET: 's' })).toEqual([
      'OIDC_CORP_ISSUER: must be an https:// URL (http:// only for localhost)',
    ]);
    expect(problems({ OIDC_CORP_ISSUER: 'https://idp.example.com', OIDC_CORP_CLIENT_ID: 'c', OIDC_CORP_CLIENT_SECRET: 's', OIDC_CORP_SCOPES: 'email' })).toEqual([
      'OIDC_CORP_SCOPES: must include openid',
    ]);
    expect(problems({ OIDC_GOOGLE_ISSUER: 'https://accounts.google.com', OIDC_GOOGLE_CLIENT_ID: 'c', OIDC_GOOGLE_CLIENT_SECRET: 's', GOOGLE_CLIENT_ID: 'g', GOOGLE_CLIENT_SECRET: 's' })[0]).toMatch(
      /^OIDC_GOOGLE_\*: the provider name "google" is a preset's/,
    );
    expect(problems({ MICROSOFT_CLIENT_ID: 'm', MICROSOFT_CLIENT_SECRET: 's', MICROSOFT_TENANT: 'common' })[0]).toMatch(/^MICROSOFT_TENANT: common and organizations/);
    expect(problems({ AUTH_REDIRECT_ORIGINS: 'https://app.example.com/path' })[0]).toMatch(/^AUTH_REDIRECT_ORIGINS: /);
    expect(() => loadConfig({ DATA_DIR: '/tmp/gh-test', GITHUB_CLIENT_SECRET: 'x' })).toThrow(/GITHUB_CLIENT_ID: required/);
  });

  it('shows the provider variables in config show, secrets masked', () => {
    expect(isIdentityVariable('OIDC_CORP_CLIENT_SECRET')).toBe(true);
    expect(isIdentityVariable('GITHUB_API_URL')).toBe(true);
    expect(isIdentityVariable('OIDC_CORP_OTHER')).toBe(false);
    const shown = describeConfig({ DATA_DIR: '/tmp/gh-test', ENV_FILE: '/nonexistent/.env', GOOGLE_CLIENT_ID: 'g-id', GOOGLE_CLIENT_SECRET: 'g-secret-value' });
    expect(shown.find((s) => s.name === 'GOOGLE_CLIENT_ID')).toEqual({ name: 'GOOGLE_CLIENT_ID', value: 'g-id', source: 'environment' });
    expect(shown.find((s) => s.name === 'GOOGLE_CLIENT_SECRET')?.value).toBe('********');
  });
});
