/** Quotas (`/api/v1/users/me/quota`, …) as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';

/** The limits feature: its routes. */
export const limitsFeature = definePlatformFeature({
  name: 'limits',
  description: 'Rate limits and quotas per user, group and IP.',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { quotaRoutes } = await import('./quota.routes.js');
    await api.register(quotaRoutes, { quota: gatehouse.quota, files: gatehouse.files });
  },
});
