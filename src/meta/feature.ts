/** `GET /api/v1/meta` (see meta.service.ts) as a platform feature. */
import { Type } from '@sinclair/typebox';
import { definePlatformFeature } from '../platform/feature.js';
import { VERSION } from '../version.js';
import { buildMeta, MetaSchema } from './meta.service.js';

/** The meta feature: one public, cacheable route. */
export const metaFeature = definePlatformFeature({
  name: 'meta',
  description: 'What a frontend needs to know about this deployment: name, version, providers, features and limits.',
  async routes(api, gatehouse) {
    const { config } = gatehouse;
    const meta = buildMeta({
      appName: config.server.appName,
      appDescription: config.server.appDescription,
      version: VERSION,
      siteUrl: config.server.siteUrl,
      frontendUrl: config.server.frontendUrl,
      requireEmailVerification: config.auth.requireEmailVerification,
      passwordMinScore: config.auth.passwordMinScore,
      apiKeyMaxTtlSeconds: config.auth.apiKeyMaxTtlSeconds,
      fileMaxBytes: config.files.maxBytes,
      storageQuotaBytes: config.files.storageQuotaBytes,
      providers: gatehouse.identities.listProviders(),
      modules: gatehouse.modules.map(({ module }) => ({ name: module.name, description: module.description })),
    });
    api.addSchema(MetaSchema);
    api.get(
      '/meta',
      {
        schema: {
          tags: ['meta'],
          summary: 'This deployment: name, version, sign-in providers, features and limits',
          description: 'Public. What a frontend reads before anyone signs in (the built-in web app does on load).',
          response: { 200: Type.Ref('Meta') },
        },
      },
      async (_request, reply) => {
        reply.header('Cache-Control', 'public, max-age=60');
        return meta;
      },
    );
  },
});
