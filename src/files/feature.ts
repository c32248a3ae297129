/** Stored files as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';

/** The files feature: `/files` routes, with multipart parsing in their scope only. */
export const filesFeature = definePlatformFeature({
  name: 'files',
  description: 'Uploads streamed to disk with SHA-256, downloads with Range, and who may read them.',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { default: multipart } = await import('@fastify/multipart');
    const { filesRoutes, multipartLimits } = await import('./files.routes.js');
    // Multipart parsing exists only in this scope: every other route still answers a multipart
    // body with 415, as it does any content type it does not take.
    await api.register(multipart, { limits: multipartLimits(gatehouse.config.files.maxBytes), throwFileSizeLimit: false });
    await api.register(filesRoutes, { files: gatehouse.files });
  },
});
