/** Social sign-in (`/api/v1/auth/providers`, `/api/v1/auth/oauth/…`, `/api/v1/users/me/identities`) as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';

/** The identities feature: its routes (its service is `gatehouse.identities`). */
export const identitiesFeature = definePlatformFeature({
  name: 'identities',
  description: 'Social sign-in with OpenID Connect and OAuth 2.0 providers; linked provider accounts.',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { identitiesRoutes } = await import('./identities.routes.js');
    await api.register(identitiesRoutes, {
      identities: gatehouse.identities,
      cookieName: gatehouse.config.auth.cookieName,
      cookieSecure: gatehouse.config.auth.cookieSecure,
      publicUrl: gatehouse.config.server.appUrl,
    });
  },
});
