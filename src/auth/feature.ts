/** Sign-in, tokens and sign-out (`/api/v1/auth/…`) as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';

/** The auth feature: its routes. */
export const authFeature = definePlatformFeature({
  name: 'auth',
  description: 'Registration, sign-in, OAuth 2.0 token endpoint, sessions and sign-out.',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { authRoutes } = await import('./auth.routes.js');
    await api.register(authRoutes, {
      accounts: gatehouse.accounts,
      auth: gatehouse.auth,
      sessions: gatehouse.sessions,
      cookieName: gatehouse.config.auth.cookieName,
      cookieSecure: gatehouse.config.auth.cookieSecure,
      exchangeCode: (code, verifier, redirectUri, client) => gatehouse.identities.exchangeCode(code, verifier, redirectUri, client),
    });
  },
});
