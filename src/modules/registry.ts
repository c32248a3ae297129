/**
 * Turns the module list into what the platform runs: validated config sections, the combined
 * permission and error catalogues, role grants, and the built services.
 */
import { isValidPermission, type Role } from '../access/permissions.js';
import { PERMISSIONS } from '../access/permissions.js';
import { ConfigError } from '../config.js';
import { registerErrorCodes } from '../shared/errors.js';
import { Cron } from 'croner';
import type { AnyModule, ModuleTask } from './contract.js';
import type { SchedulerTask } from '../scheduler/scheduler.service.js';
import { EVENT_ROUTES, type EventRoute } from '../notify/events.js';
import { isBuiltInTemplate, missingTemplates } from '../notify/templates.js';
import { isEventName } from '../shared/event-names.js';

/** A module whose config section has been validated. */
export interface PreparedModule {
  module: AnyModule;
  settings: unknown;
}

const MODULE_NAME = /^[a-z][a-z0-9-]{0,39}$/;

/**
 * Checks the module list and reads each module's config section from `env`, registering the
 * modules' error codes.
 * @throws Error for a malformed or duplicate module name, a malformed permission, or a permission
 *   claimed twice (programming errors); ConfigError naming every invalid variable.
 */
export function prepareModules(modules: readonly AnyModule[], env: Readonly<Record<string, string | undefined>>): PreparedModule[] {
  const names = new Set<string>();
  const permissionOwners = new Map<string, string>(Object.keys(PERMISSIONS).map((p) => [p, 'the platform']));
  const problems: string[] = [];
  const prepared: PreparedModule[] = [];
  for (const module of modules) {
    if (!MODULE_NAME.test(module.name)) throw new Error(`Module name "${module.name}" must match ${MODULE_NAME}.`);
    if (names.has(module.name)) throw new Error(`Module ${module.name} is listed twice.`);
    names.add(module.name);
    for (const permission of Object.keys(module.permissions ?? {})) {
      if (!isValidPermission(permission) || permission.includes('*')) throw new Error(`Module ${module.name}: "${permission}" is not a permission (resource:action).`);
      const owner = permissionOwners.get(permission);
      if (owner && owner !== module.name) throw new Error(`Module ${module.name}: permission ${permission} is already declared by ${owner}.`);
      permissionOwners.set(permission, module.name);
    }
    if (module.errors) registerErrorCodes(module.name, module.errors);
    let settings: unknown;
    if (module.config) {
      const present: Record<string, string> = {};
      for (const key of Object.keys(module.config.schema.shape)) {
        const value = env[key];
        if (value !== undefined && value !== '') present[key] = value;
      }
      const parsed = module.config.schema.safeParse(present);
      if (parsed.success) settings = module.config.settings(parsed.data as Record<string, unknown>);
      else problems.push(...parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
    }
    prepared.push({ module, settings });
  }
  if (problems.length) throw new ConfigError(problems);
  return prepared;
}

/**
 * The modules' notification events and templates, checked against each other and the platform's.
 * @throws Error when an event is the platform's or another module's, a template replaces a
 *   built-in or another module's, or a route names a template part nobody provides.
 */
export function moduleNotifications(modules: readonly Pick<AnyModule, 'name' | 'notifications'>[]): {
  routes: Record<string, readonly EventRoute[]>;
  templates: Record<string, string>;
} {
  const routes: Record<string, readonly EventRoute[]> = {};
  const templates: Record<string, string> = {};
  for (const module of modules) {
    if (!module.notifications) continue;
    for (const [event, eventRoutes] of Object.entries(module.notifications.events)) {
      if (!isEventName(event)) throw new Error(`Module ${module.name}: notification event "${event}" must be noun.verb (<object>.<past-tense verb>).`);
      if (Object.hasOwn(EVENT_ROUTES, event) || Object.hasOwn(routes, event)) throw new Error(`Module ${module.name}: notification event ${event} exists already.`);
      routes[event] = eventRoutes;
    }
    for (const [name, source] of Object.entries(module.notifications.templates)) {
      if (isBuiltInTemplate(name) || Object.hasOwn(templates, name)) throw new Error(`Module ${module.name}: template ${name} exists already.`);
      templates[name] = source;
    }
  }
  const missing = missingTemplates(routes, templates);
  if (missing.length) throw new Error(`Feature modules' notification routes name templates nobody provides: ${missing.join(', ')}.`);
  return { routes, templates };
}

/** What each role holds from the modules' permissions (`admin` holds everything through `*`). */
export function moduleRoleGrants(modules: readonly Pick<AnyModule, 'permissions'>[]): Record<Exclude<Role, 'admin'>, string[]> {
  const grants: Record<Exclude<Role, 'admin'>, string[]> = { user: [], worker: [] };
  for (const module of modules) {
    for (const [permission, spec] of Object.entries(module.permissions ?? {})) {
      for (const role of spec.roles ?? []) grants[role].push(permission);
    }
  }
  return grants;
}

/** Every permission a module declares, with its description (for docs and `groups` validation messages). */
export function modulePermissions(modules: readonly Pick<AnyModule, 'name' | 'permissions'>[]): Array<{ permission: string; description: string; module: string }> {
  return modules.flatMap((m) => Object.entries(m.permissions ?? {}).map(([permission, spec]) => ({ permission, description: spec.description, module: m.name })));
}

/** The variable that overrides a module task's schedule: `SCHEDULE_<MODULE>_<TASK>`. */
export function moduleScheduleVariable(moduleName: string, taskName: string): string {
  return `SCHEDULE_${moduleName}_${taskName}`.toUpperCase().replace(/[-.]/g, '_');
}

/**
 * A module's tasks as the scheduler runs them (`<module>.<task>`) with their schedules (the
 * `SCHEDULE_<MODULE>_<TASK>` variable over the module's default; null = off).
 * @throws ConfigError naming the variable (or the module's default) that is not a 5-field cron
 *   expression or `off`; Error for a malformed task name.
 */
export function moduleSchedulerTasks(
  moduleName: string,
  tasks: readonly ModuleTask[],
  env: Readonly<Record<string, string | undefined>>,
): { tasks: SchedulerTask[]; schedules: Record<string, string | null> } {
  const schedules: Record<string, string | null> = {};
  const problems: string[] = [];
  const built = tasks.map((task): SchedulerTask => {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(task.name)) throw new Error(`Module ${moduleName}: task name "${task.name}" must match [a-z][a-z0-9-]*.`);
    const name = `${moduleName}.${task.name}`;
    const variable = moduleScheduleVariable(moduleName, task.name);
    const value = (env[variable] || task.schedule).trim();
    if (value === 'off') schedules[name] = null;
    else if (isCron(value)) schedules[name] = value;
    else problems.push(`${env[variable] ? variable : `${name} (default schedule)`}: must be a cron expression with 5 fields (minute hour day month weekday, UTC) or "off"`);
    return { name, description: task.description, run: (now) => task.run(now) };
  });
  if (problems.length) throw new ConfigError(problems);
  return { tasks: built, schedules };
}

function isCron(value: string): boolean {
  try {
    new Cron(value, { mode: '5-part', timezone: 'UTC' });
    return true;
  } catch {
    return false;
  }
}
