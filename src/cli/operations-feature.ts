/** Operators' commands (`api-keys`, `config`, `secrets`, `backup`, `restore`, `version`) as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';
import { registerAdminCommands } from './commands/admin.js';

/** The operations feature: its CLI commands. */
export const operationsFeature = definePlatformFeature({
  name: 'operations',
  description: 'Operating a deployment: configuration, secrets and key rotation, backups, API keys of every user.',
  commands: (program) => registerAdminCommands(program),
});
