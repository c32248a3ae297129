/**
 * The module contract: what one feature folder fills in so that Gatehouse can run it
 * (docs/architecture.md). A module is a plain object; registering it is one line in
 * `src/modules/index.ts` (or `createGatehouse(config, { modules })` for an embedding application).
 *
 * Lifecycle. `createGatehouse` validates every module's config section, checks that no two modules
 * claim the same permission or error code, applies the modules' migrations (each module in its own
 * migration table, in list order), then calls `create` to build the module's services; `create`
 * must have no side effects beyond building objects, so one-shot CLI commands stay cheap.
 * `start` runs only in a server (`startBackground`), `stop` on close. Routes are mounted under
 * `/api/v1` by `buildApp`; CLI commands are added to the `gatehouse` program.
 */
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { Migration } from 'kysely';
import type { z } from 'zod';
import type { Role } from '../access/permissions.js';
import type { Gatehouse } from '../container.js';
import type { MigrationTypes } from '../db/migrations/types.js';
import type { FileAccessRule } from '../files/files.service.js';
import type { JobHook } from '../jobs/job-hooks.js';
import type { ModuleTopic } from '../realtime/topic-access.js';
import type { EventRoute } from '../notify/events.js';
import type { TaskResult } from '../scheduler/scheduler.service.js';
import type { ErrorDefinition } from '../shared/errors.js';

/** A permission a module's routes check, with who holds it without a group granting it. */
export interface ModulePermission {
  /** One line for the README's permission table and `groups` validation messages. */
  description: string;
  /** Roles that hold it by themselves (`admin` always holds everything through `*`). */
  roles?: readonly Exclude<Role, 'admin'>[];
}

/**
 * A module's configuration section: a zod object over environment variables (names in
 * `UPPER_SNAKE_CASE`, conventionally prefixed with the module's name) and how to turn the parsed
 * variables into the typed settings the module uses.
 */
export interface ModuleConfigSection<Settings> {
  /** Validates the module's variables; unknown variables are ignored. Defaults belong here. */
  schema: z.ZodObject<z.ZodRawShape>;
  /** Builds the settings from the parsed variables. */
  settings(parsed: Record<string, unknown>): Settings;
}

/**
 * A module's scheduled task. It runs as `<module>.<name>` on the platform scheduler: exactly once
 * per due time across instances, recorded in `gatehouse schedule list`, runnable with
 * `gatehouse schedule run <module>.<name>`. `SCHEDULE_<MODULE>_<NAME>` (upper case, `-` and `.` as
 * `_`) overrides `schedule`.
 */
export interface ModuleTask {
  /** `[a-z][a-z0-9-]*`. */
  name: string;
  description: string;
  /** Default cron expression (5 fields, UTC), or `off`. */
  schedule: string;
  /** Does the work; `now` is the clock's time when the run was claimed. `detail` is recorded with the run. */
  run(now: Date): Promise<TaskResult>;
}

/**
 * A module's notifications: events (`noun.verb`, conventionally `<module>.<verb>`) with their
 * routes, and the Eta templates the routes name, by file name (`<template>.email.subject`,
 * `.email.text`, `.email.html`; `admins` routes also `.mattermost` and `.webhook`). Send them with
 * `gatehouse.notify.enqueue(tx, event, data)` inside the transaction that caused them (a job hook's
 * `tx`), so the message is queued in the outbox exactly when the change commits. Operators
 * override the templates from `TEMPLATES_DIR` like built-ins.
 */
export interface ModuleNotifications {
  events: Readonly<Record<string, readonly EventRoute[]>>;
  templates: Readonly<Record<string, string>>;
}

/**
 * A worker shipped with a module: its job handlers run in worker threads of the server (claiming
 * over HTTP with the same protocol, leases and fencing as remote workers; `BUILTIN_WORKERS`,
 * `BUILTIN_WORKER_THREADS`) or in a process of their own with `gatehouse worker --builtin <name>`.
 */
export interface BuiltinWorker {
  /** `[a-z][a-z0-9-]*`, unique across modules; what `BUILTIN_WORKERS` and `--builtin` name. */
  name: string;
  description: string;
  /**
   * The handler module (an absolute `file:` URL, usually `new URL('./x.handler.js',
   * import.meta.url)`): its default export is `{ [kind]: (job, ctx) => result }`, the same shape
   * `gatehouse worker --handler` takes. It is loaded inside the thread, never in the server's.
   */
  handlers: URL;
  /** The job kinds it handles (it claims only these). */
  kinds: readonly string[];
  /** The queues it claims from. */
  queues: readonly string[];
}

/** What `create` receives: the platform's services and the module's own validated settings. */
export interface ModuleContext<Settings> {
  gatehouse: Gatehouse;
  settings: Settings;
}

/**
 * Runs `work` with a fully built Gatehouse and this module's services, closing both afterwards
 * (what a one-shot CLI command uses; nothing is started).
 */
export type OpenModule<Services> = <T>(work: ModuleWork<Services, T>) => Promise<T>;

/**
 * A one-shot command's work. Declared through a method so that a list of modules with different
 * service types is still one list (method parameters are compared bivariantly).
 */
export type ModuleWork<Services, T> = { work(services: Services, gatehouse: Gatehouse): Promise<T> }['work'];

/**
 * One feature folder's contribution to Gatehouse. `Services` is what `create` builds (routes, CLI
 * commands and other modules receive it); `Settings` is its parsed config section.
 */
export interface GatehouseModule<Services = unknown, Settings = unknown> {
  /** Unique, `[a-z][a-z0-9-]*`; names the migration table (`gatehouse_migrations_<name>`) and logs. */
  name: string;
  /** One line for logs and the docs. */
  description: string;
  /**
   * The module's migrations, keyed by zero-padded names that sort in application order. They run
   * (whenever Gatehouse is built: server, CLI, tests) after the platform's own and after the modules
   * listed before this one, each in a transaction.
   * Never edit a shipped migration; add a new one.
   */
  migrations?: (types: MigrationTypes) => Record<string, Migration>;
  /** Permissions the module's routes check (`resource:action`). */
  permissions?: Readonly<Record<string, ModulePermission>>;
  /** Error codes the module's services throw, with their HTTP status and title. */
  errors?: Readonly<Record<string, ErrorDefinition>>;
  /** The module's configuration section, validated at start-up with the rest of the config. */
  config?: ModuleConfigSection<Settings>;
  /** Builds the module's services. No side effects: no timers, listeners or network calls. */
  create(context: ModuleContext<Settings>): Services;
  /** Side effects of a running server (timers, listeners, sweeps). Awaited before the server listens. */
  start?(services: Services): Promise<void> | void;
  /** Undoes `start`; called once when Gatehouse closes. */
  stop?(services: Services): Promise<void> | void;
  /** Adds routes under `/api/v1`; they get the same guard (`config: { auth, permission }`), limits and problem documents as the platform's. */
  routes?(api: FastifyInstance, services: Services, gatehouse: Gatehouse): Promise<void> | void;
  /** Adds commands to the `gatehouse` CLI (`program` is the root command). */
  commands?(program: Command, open: OpenModule<Services>): void;
  /**
   * Handlers for job outcomes, selected by job `kind` or `parent_type`; they run inside the
   * transaction that records the outcome (see {@link JobHook}).
   */
  jobHooks?(services: Services): readonly JobHook[];
  /** Notification events and their templates (see {@link ModuleNotifications}). */
  notifications?: ModuleNotifications;
  /** Built-in workers, from the module's settings (queue names are usually configurable); see {@link BuiltinWorker}. */
  builtinWorkers?(settings: Settings): readonly BuiltinWorker[];
  /** Scheduled tasks (see {@link ModuleTask}). */
  tasks?(services: Services): readonly ModuleTask[];
  /**
   * Live topic families the module owns (`<prefix>:<id>`), with who may watch them; publish on them
   * with `gatehouse.topics.publish(tx, topic, type, data)` (see {@link ModuleTopic}).
   */
  topics?(services: Services): readonly ModuleTopic[];
  /** Who may read files the module owns (beyond their uploader and `files:manage`); see {@link FileAccessRule}. */
  fileAccess?(services: Services): readonly FileAccessRule[];
}

/** Any module, as lists hold them (a module's own types stay inside its folder). */
export type AnyModule = GatehouseModule<unknown, unknown>;

export type { ModuleTopic };

/** Type helper: declares a module with its types inferred. */
export function defineModule<Services, Settings = undefined>(module: GatehouseModule<Services, Settings>): GatehouseModule<Services, Settings> {
  return module;
}
