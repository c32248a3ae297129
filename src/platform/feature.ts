/**
 * The platform's own features (accounts, access, jobs, …) on the module contract, where it fits:
 * each feature folder declares its routes and CLI commands as a {@link PlatformFeature}, and
 * `buildApp` and the CLI loop over {@link PLATFORM_FEATURES} and then the feature modules the same
 * way. Their services, migrations, permissions and error codes stay the platform's (built by
 * `createGatehouse`, migrated in `kysely_migration`, listed in `access/permissions.ts` and
 * `shared/errors.ts`): everything else depends on them, so they are not optional parts.
 */
import type { Gatehouse } from '../container.js';
import type { GatehouseModule } from '../modules/contract.js';
import { defineModule } from '../modules/contract.js';

/** A platform feature: a module whose services are the Gatehouse itself. */
export type PlatformFeature = GatehouseModule<Gatehouse, undefined>;

/**
 * Declares a platform feature (its `create` hands back the Gatehouse).
 * @param feature name, description, and the `routes` / `commands` members of the contract.
 */
export function definePlatformFeature(feature: Omit<PlatformFeature, 'create'>): PlatformFeature {
  return defineModule<Gatehouse, undefined>({ ...feature, create: ({ gatehouse }) => gatehouse });
}
