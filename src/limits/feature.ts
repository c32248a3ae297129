/** Quotas (`/api/v1/users/me/quota`, …) as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';
import { quotaRoutes } from './quota.routes.js';

/** The limits feature: its routes. */
export const limitsFeature = definePlatformFeature({
  name: 'limits',
  description: 'Rate limits and quotas per user, group and IP.',
  async routes(api, gatehouse) {
    await api.register(quotaRoutes, { quota: gatehouse.quota, files: gatehouse.files });
  },
});
