/** The audit log (`/api/v1/audit`, `/api/v1/audit/login-attempts`) as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';

/** The audit feature: its routes. */
export const auditFeature = definePlatformFeature({
  name: 'audit',
  description: 'The audit log of security-relevant actions and login attempts.',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { auditRoutes } = await import('./audit.routes.js');
    await api.register(auditRoutes, { audit: gatehouse.audit });
  },
});
