/** Public entry point for applications that embed Gatehouse. */
export { type BuildAppOptions, buildApp } from './app.js';
export { type Config, ConfigError, loadConfig } from './config.js';
export { buildGatehouse, createGatehouse, type Gatehouse, type GatehouseOverrides, type StartOptions } from './container.js';
export { startServer, type RunningServer } from './server.js';
export { AppError, type ErrorCode, errorCatalogue } from './shared/errors.js';
export { type Clock, ManualClock, systemClock } from './shared/clock.js';
export type { Principal } from './auth/auth.service.js';
export { allows, PERMISSIONS, ROLE_PERMISSIONS } from './access/permissions.js';
export { requirePrincipal } from './http/authenticate.js';
export { defineModule, type GatehouseModule, type ModuleContext, type ModuleConfigSection, type ModulePermission } from './modules/contract.js';
export { MODULES } from './modules/index.js';
export { type JobHook, type JobOutcome, type JobOutcomeEvent, JOB_OUTCOMES } from './jobs/job-hooks.js';
export { main as runCli, type CliOptions } from './cli/main.js';
