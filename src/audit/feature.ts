/** The audit log (`/api/v1/admin/audit…`) as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';
import { auditRoutes } from './audit.routes.js';

/** The audit feature: its routes. */
export const auditFeature = definePlatformFeature({
  name: 'audit',
  description: 'The audit log of security-relevant actions and login attempts.',
  async routes(api, gatehouse) {
    await api.register(auditRoutes, { audit: gatehouse.audit });
  },
});
