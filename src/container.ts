/**
 * The composition root: wires configuration, database, clock, logger and every service into
 * one object. The HTTP app, the CLI and the tests all build Gatehouse through here, so they run
 * the very same services.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { AccountMails } from './accounts/account-mails.js';
import { AccountService } from './accounts/accounts.service.js';
import { UserDirectory } from './accounts/user-directory.service.js';
import { AccessService } from './access/access.service.js';
import { withRoleGrants } from './access/permissions.js';
import { ApiKeyService } from './access/api-keys.service.js';
import { UserAdminService } from './access/user-admin.service.js';
import { AuditLog, SYSTEM_ACTOR } from './audit/audit.service.js';
import { AuthService, type LoginGuard } from './auth/auth.service.js';
import type { Config } from './config.js';
import { PasswordHasher } from './crypto/passwords.js';
import { type DatabaseHandle, openDatabase, pingDatabase } from './db/database.js';
import { migrateToLatest, migrationStatus } from './db/migrate.js';
import { IdentityService } from './identities/identities.service.js';
import { JobHooks } from './jobs/job-hooks.js';
import { MfaService } from './mfa/mfa.service.js';
import { JobHub } from './jobs/job-hub.js';
import { JobService } from './jobs/jobs.service.js';
import { LeaseSweeper } from './jobs/lease-sweeper.js';
import { QueueService } from './jobs/queues.service.js';
import { WorkerProtocol } from './jobs/worker-protocol.service.js';
import { LiveEvents } from './realtime/event-stream.js';
import { TopicEvents } from './realtime/topic-events.js';
import { FileService } from './files/files.service.js';
import { LocalFileStorage } from './files/storage.js';
import { createLimiterStore, type LimiterStore } from './limits/limiter-store.js';
import { LoginThrottle } from './limits/login-throttle.service.js';
import { QuotaService } from './limits/quota.service.js';
import { createAccountEmailLimits } from './limits/rate-limits.js';
import { Outbox } from './outbox/outbox.service.js';
import {
  createFileTransport,
  createSmtpTransport,
  type DeliveryTransport,
  emailDelivery,
  type MailTransport,
} from './outbox/transport.js';
import type { Channel } from './notify/events.js';
import { NotifyService } from './notify/notify.service.js';
import { TemplateRenderer } from './notify/templates.js';
import { createMattermostTransport, createWebhookTransport } from './notify/transports.js';
import { Scheduler } from './scheduler/scheduler.service.js';
import { builtInTasks } from './scheduler/tasks.js';
import { AuthCache } from './sessions/auth-cache.js';
import {
  type AuthChangeListener,
  AuthChanges,
  sqliteDataVersionProbe,
  startPgAuthChangeListener,
} from './sessions/auth-changes.js';
import { SessionService } from './sessions/sessions.service.js';
import { type Clock, systemClock } from './shared/clock.js';
import { createLogger } from './shared/logger.js';
import type { AnyModule } from './modules/contract.js';
import { MODULES } from './modules/index.js';
import { BuiltinWorkers, selectBuiltinWorkers } from './modules/builtin-workers.js';
import { moduleNotifications, moduleRoleGrants, moduleSchedulerTasks, prepareModules } from './modules/registry.js';
import { AccessTokenService } from './tokens/access-tokens.service.js';


/** Everything a running Gatehouse is made of. */
export interface Gatehouse {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  cache: AuthCache;
  hasher: PasswordHasher;
  outbox: Outbox;
  /** Notifications: events to email, Mattermost and webhook through the outbox; `notify(event, data)` for other modules. */
  notify: NotifyService;
  sessions: SessionService;
  accessTokens: AccessTokenService;
  accounts: AccountService;
  auth: AuthService;
  /** Social sign-in: providers, flows, linked provider accounts (src/identities). */
  identities: IdentityService;
  audit: AuditLog;
  access: AccessService;
  apiKeys: ApiKeyService;
  users: UserAdminService;
  /** Two-factor authentication (TOTP, recovery codes) and passkeys; the second-factor gate of every sign-in. */
  mfa: MfaService;
  /** Rate-limit and quota counters: memory, or Redis when REDIS_URL is set. */
  limiterStore: LimiterStore;
  /** Brute-force protection around password checks (the AuthService's login guard by default). */
  loginThrottle: LoginThrottle;
  /** API call quotas per user per hour/day. */
  quota: QuotaService;
  /** Built-in housekeeping tasks on cron schedules, each run once across instances (`tick()` for tests). */
  scheduler: Scheduler;
  /** Stored files: uploads, downloads and who may read them (bytes under FILES_DIR). */
  files: FileService;
  /** Fans committed job events out to live subscribers (and, on PostgreSQL, to other instances). */
  hub: JobHub;
  /** Queues: settings, pause/resume, statistics. */
  queues: QueueService;
  /** Jobs for their owners and admins: enqueue, list, read, pause, resume, cancel, retry. */
  jobs: JobService;
  /** The worker protocol: claim, heartbeat, complete, fail, release; `sweep()` reclaims lapsed leases. */
  workerProtocol: WorkerProtocol;
  /** Live progress streams (SSE, WebSocket): topic authorisation, replay and delivery. */
  live: LiveEvents;
  /** Feature modules' live topics (`<prefix>:<id>`): `publish(tx, topic, type, data)` inside the causing transaction. */
  topics: TopicEvents;
  /** Handlers for job outcomes that modules registered (run inside the recording transaction). */
  jobHooks: JobHooks;
  /** The feature modules this Gatehouse runs, in list order, with the services each built. */
  modules: ReadonlyArray<{ module: AnyModule; services: unknown }>;
  /** The modules' built-in workers this server runs in worker threads (`start` after listening). */
  builtinWorkers: BuiltinWorkers;
  /** The services of the module called `name`. @throws Error when no such module runs. */
  moduleServices<T>(name: string): T;
  /** True when the database answers a trivial query. */
  isDatabaseReady(): Promise<boolean>;
  /**
   * The side effects that {@link buildGatehouse} leaves out, in this order: applies pending
   * migrations (unless `skipMigrations`; one query per migration set when none is pending), then
   * for role `server` (the default) loads the token signing keys (generating the first), seeds
   * `GROUPS_FILE`, removes temporary files of interrupted uploads and, on PostgreSQL, listens for
   * other instances' credential changes; on PostgreSQL, for both roles, connects the job-event
   * bridge (so servers see the job events a command commits). Role `command` is what one-shot CLI
   * commands need. Runs once: later calls return the first call's promise.
   * @throws when a migration fails, the database cannot be reached or `GROUPS_FILE` is invalid.
   */
  start(options?: StartOptions): Promise<void>;
  /** Starts background work (the outbox dispatcher, the scheduler, the lease sweeper, then each module's `start`). */
  startBackground(): Promise<void>;
  /** Stops background work and closes the database. Safe to call twice. */
  close(): Promise<void>;
}

/** Options for {@link Gatehouse.start}. */
export interface StartOptions {
  /** `server` (default): everything a serving instance needs; `command`: only what a one-shot command needs. */
  role?: 'server' | 'command';
}

/** Optional replacements for tests and embedding applications. */
export interface GatehouseOverrides {
  clock?: Clock;
  logger?: Logger;
  mailTransport?: MailTransport;
  database?: DatabaseHandle;
  /** Skip migrations (the caller already ran them). Default false. */
  skipMigrations?: boolean;
  /** Replace the brute-force guard around password checks. */
  loginGuard?: LoginGuard;
  /** The feature modules to run; default {@link MODULES}. Embedding applications add theirs here. */
  modules?: readonly AnyModule[];
}

/**
 * Builds every service and runs {@link Gatehouse.start} (role `server`): migrated database,
 * signing keys, listeners. What servers, tests and embedding applications use.
 * @throws when the database cannot be reached, a migration fails or `GROUPS_FILE` is invalid
 *   (everything opened is closed again).
 */
export async function createGatehouse(config: Config, overrides: GatehouseOverrides = {}): Promise<Gatehouse> {
  const gatehouse = await buildGatehouse(config, overrides);
  try {
    await gatehouse.start();
  } catch (error) {
    await gatehouse.close();
    throw error;
  }
  return gatehouse;
}

/**
 * Opens the database handle (connections are made on first query) and the limiter store, and
 * builds every service, without side effects: no migration, no key generation, no listener, no
 * timer. Call {@link Gatehouse.start} before use; {@link createGatehouse} does both.
 * @throws when a module's config section is invalid or the Redis limiter store cannot be set up.
 */
export async function buildGatehouse(config: Config, overrides: GatehouseOverrides = {}): Promise<Gatehouse> {
  // Module config sections are validated before anything is opened: a bad variable costs nothing.
  const prepared = prepareModules(overrides.modules ?? MODULES, config.env);
  const moduleList = prepared.map((p) => p.module);
  const builtinWorkerSpecs = selectBuiltinWorkers(
    prepared.flatMap((p) => p.module.builtinWorkers?.(p.settings) ?? []),
    config.jobs.builtinWorkers,
  );
  const logger = overrides.logger ?? createLogger({ level: config.server.logLevel });
  const clock = overrides.clock ?? systemClock;
  const database = overrides.database ?? openDatabase(config.database, { checkpointInBackground: true });
  let listener: AuthChangeListener | undefined;
  let limiterStore: LimiterStore | undefined;
  const hub = new JobHub();
  try {
    const db = database.db;
    const cache = new AuthCache();
    const changes = new AuthChanges(cache, database.dialect);
    if (database.dialect === 'sqlite' && database.dataVersion) {
      cache.watchExternalChanges(sqliteDataVersionProbe(database.dataVersion));
    }
    const hasher = new PasswordHasher(config.auth.argon2);
    const transport =
      overrides.mailTransport ??
      (config.mail.smtpUrl
        ? createSmtpTransport(config.mail.smtpUrl)
        : createFileTransport(path.join(config.dataDir, 'mail')));
    const transports: DeliveryTransport[] = [];
    if (config.notify.emailEnabled) transports.push(emailDelivery(transport, config.mail.from));
    if (config.notify.mattermostWebhookUrl) transports.push(createMattermostTransport(config.notify.mattermostWebhookUrl));
    if (config.notify.webhookUrl && config.notify.webhookSecret) {
      transports.push(createWebhookTransport(config.notify.webhookUrl, config.notify.webhookSecret, clock));
    }
    const notifications = moduleNotifications(moduleList);
    const renderer = new TemplateRenderer({ templatesDir: config.notify.templatesDir, moduleTemplates: notifications.templates });
    if (renderer.overridden.length) logger.info({ files: renderer.overridden }, 'notification templates overridden from TEMPLATES_DIR');
    if (renderer.unknownFiles.length) {
      logger.warn({ files: renderer.unknownFiles }, 'TEMPLATES_DIR files that name no template were ignored');
    }
    const outbox: Outbox = new Outbox({
      db,
      transports,
      // Operators pause channels in the database (`notify disable`), for every instance at once.
      activeChannels: (): Promise<Channel[]> => notify.activeChannels(),
      clock,
      logger: logger.child({ component: 'outbox' }),
      maxAttempts: config.mail.maxAttempts,
      pollSeconds: config.mail.pollSeconds,
    });
    const notify: NotifyService = new NotifyService({
      db,
      clock,
      logger: logger.child({ component: 'notify' }),
      outbox,
      renderer,
      appName: config.server.appName,
      // Templates link people to pages (the dashboard, forgot-password): the frontend's when FRONTEND_URL is set.
      publicUrl: config.server.appUrl,
      adminEmails: config.notify.adminEmails,
      configured: transports.map((t) => t.channel as Channel),
      moduleRoutes: notifications.routes,
    });
    const userDirectory = new UserDirectory(db);
    const sessions = new SessionService({ db, users: userDirectory, clock, cache, changes, ttlSeconds: config.auth.sessionTtlSeconds });
    const accessTokens = new AccessTokenService({
      db,
      clock,
      issuer: config.server.publicUrl,
      ttlSeconds: config.auth.accessTokenTtlSeconds,
    });
    const mails = new AccountMails({
      notify,
      publicUrl: config.server.appUrl,
      verifyTokenTtlSeconds: config.auth.verifyTokenTtlSeconds,
      resetTokenTtlSeconds: config.auth.resetTokenTtlSeconds,
    });
    const limits = await createLimiterStore({ redisUrl: config.limits.redisUrl, logger: logger.child({ component: 'limits' }) });
    limiterStore = limits;
    const emailLimits = createAccountEmailLimits('account-email', limits);
    const registerLimits = createAccountEmailLimits('register', limits, config.limits.registerPerIpPerHour);
    const loginThrottle = new LoginThrottle(limits, config.limits, (lockout) => notify.lockedOut(lockout));
    const audit = new AuditLog(db, clock);
    const roleGrants = withRoleGrants(moduleRoleGrants(moduleList));
    const access = new AccessService({
      roleGrants,
      db,
      users: userDirectory,
      clock,
      cache,
      changes,
      audit,
      defaults: {
        sessionTtlSeconds: config.auth.sessionTtlSeconds,
        apiKeyMaxTtlSeconds: config.auth.apiKeyMaxTtlSeconds,
        quotaPerHour: config.quota.perHour,
        quotaPerDay: config.quota.perDay,
        storageQuotaBytes: config.files.storageQuotaBytes,
      },
    });
    const apiKeys = new ApiKeyService({ db, users: userDirectory, clock, cache, changes, audit, access });
    const users = new UserAdminService({
      db,
      users: userDirectory,
      clock,
      sessions,
      changes,
      audit,
      mails,
      access,
      publicProfileFields: config.auth.publicProfileFields,
      roleGrants,
    });
    const accounts = new AccountService({
      db,
      clock,
      hasher,
      sessions,
      changes,
      audit,
      mails,
      apiKeys,
      // `auth` is built just below; these are only called once someone is signed in.
      reauth: {
        verifyCurrentPassword: (user, password, client) => auth.verifyCurrentPassword(user, password, client),
        confirmIdentity: (principal, password, client) => auth.confirmIdentity(principal, password, client),
      },
      requireEmailVerification: config.auth.requireEmailVerification,
      passwordMinScore: config.auth.passwordMinScore,
      verifyTokenTtlSeconds: config.auth.verifyTokenTtlSeconds,
      resetTokenTtlSeconds: config.auth.resetTokenTtlSeconds,
      emailLimits,
      registerLimits,
    });
    const auth = new AuthService({
      db,
      users: userDirectory,
      clock,
      logger: logger.child({ component: 'auth' }),
      hasher,
      sessions,
      accessTokens,
      changes,
      access,
      apiKeys,
      audit,
      loginGuard: overrides.loginGuard ?? loginThrottle,
      loginObserver: notify,
      // `mfa` is built just below; the gate is only asked once someone signs in.
      secondFactor: { challenge: (user, attempt) => mfa.challenge(user, attempt) },
      requireEmailVerification: config.auth.requireEmailVerification,
    });
    const identities = new IdentityService({
      db,
      users: userDirectory,
      clock,
      logger: logger.child({ component: 'identities' }),
      config: config.identities,
      publicUrl: config.server.publicUrl,
      appUrl: config.server.appUrl,
      accessTokens,
      auth,
      accounts,
      audit,
      notify,
    });
    const mfa: MfaService = new MfaService({
      db,
      users: userDirectory,
      clock,
      settings: config.mfa,
      audit,
      notify,
      changes,
      loginGuard: overrides.loginGuard ?? loginThrottle,
      confirmIdentity: (principal, password, client) => auth.confirmIdentity(principal, password, client),
      publicUrl: config.server.appUrl,
    });
    const quota = new QuotaService(limits, config.quota, clock, async (userId, seconds, reason) => {
      await users.ban(userId, { durationSeconds: seconds, reason, automatic: true }, SYSTEM_ACTOR);
    });
    const scheduler = new Scheduler({
      db,
      clock,
      logger: logger.child({ component: 'scheduler' }),
      schedules: config.scheduler.schedules,
      // `jobs` and `topics` are built further down; the tasks only run once the scheduler starts.
      tasks: builtInTasks({
        db,
        config,
        outbox,
        renderer,
        mails,
        changes,
        audit,
        jobs: { pruneFinished: (before) => jobs.pruneFinished(before) },
        appName: config.server.appName,
        pruneTopicEvents: (before) => topics.prune(before),
      }),
    });
    const queues = new QueueService({ db, clock, audit, hub });
    const jobHooks = new JobHooks();
    const jobs = new JobService({ db, write: database.write, clock, hub, audit, files: { findByIds: (ids, executor) => files.findByIds(ids, executor) }, payloadMaxBytes: config.jobs.payloadMaxBytes, hooks: jobHooks });
    const workerProtocol = new WorkerProtocol({
      database,
      clock,
      hub,
      logger: logger.child({ component: 'jobs' }),
      notify,
      payloadMaxBytes: config.jobs.payloadMaxBytes,
      maxWaitSeconds: config.jobs.maxWaitSeconds,
      maxWaitingClaimsPerKey: config.jobs.maxWaitingClaimsPerKey,
      publicUrl: config.server.publicUrl,
      files: { findByIds: (ids, executor) => files.findByIds(ids, executor) },
      hooks: jobHooks,
    });
    const sweeper = new LeaseSweeper(workerProtocol, config.jobs.sweepSeconds, logger.child({ component: 'lease-sweeper' }));
    const fileStorage = new LocalFileStorage(config.files.dir);
    const files: FileService = new FileService({
      db,
      clock,
      storage: fileStorage,
      maxBytes: config.files.maxBytes,
      jobAccess: {
        mayReadThroughJob: (file, principal) => jobs.mayReadFileThroughJob(file, principal),
        assertHoldsJob: (principal, jobId, attempt) => jobs.assertHoldsJob(principal, jobId, attempt),
      },
    });
    const live = new LiveEvents({
      db,
      hub,
      keepAliveSeconds: config.realtime.keepAliveSeconds,
      maxTopics: config.realtime.maxTopics,
      maxConnectionsPerUser: config.realtime.maxConnectionsPerUser,
      checkCredential: (principal) => auth.credentialStillValid(principal),
      logger: logger.child({ component: 'live-events' }),
    });
    const topics = new TopicEvents({ db, clock, hub, live });
    // Streams opened with a credential that is revoked here, or on another instance, are closed.
    changes.observe((kind, id) => live.credentialChanged(kind, id));
    // SQLite: the CLI revokes credentials from its own process; data_version shows its commits.
    if (database.dataVersion) live.watchExternalChanges(sqliteDataVersionProbe(database.dataVersion).changedSinceLastCheck);
    if (!config.mail.smtpUrl && !overrides.mailTransport) {
      logger.info({ dir: path.join(config.dataDir, 'mail') }, 'SMTP_URL is not set: emails are written as .eml files');
    }
    let closed: Promise<void> | undefined;
    let starting: Promise<void> | undefined;
    const start = async (role: 'server' | 'command'): Promise<void> => {
      if (!overrides.skipMigrations) {
        // The migrator (bookkeeping tables, lock, one transaction each) runs only when something is pending.
        if ((await migrationStatus(db, database.dialect, moduleList)).pending.length) {
          const { applied } = await migrateToLatest(database.db, database.dialect, moduleList);
          if (applied.length) logger.info({ applied }, 'database migrated');
        }
      }
      if (role === 'server') {
        if (database.dialect === 'postgres') {
          listener = await startPgAuthChangeListener(config.database.url, cache, logger.child({ component: 'auth-changes' }), changes);
          cache.watchExternalChanges(listener);
        }
        if ((await accessTokens.init()).generated) logger.info('generated the first token signing key (Ed25519)');
        if (config.auth.groupsFile) {
          const seeded = await access.seedGroupsFromFile(config.auth.groupsFile);
          logger.info({ file: config.auth.groupsFile, ...seeded }, 'groups seeded from GROUPS_FILE');
        }
        // Uploads cut off by a crash leave temporary files; a day is far longer than any live upload.
        const staleUploads = await fileStorage.removeStaleTemporaryFiles(86_400_000);
        if (staleUploads) logger.info({ removed: staleUploads }, 'removed temporary files of interrupted uploads');
      }
      if (database.dialect === 'postgres') await hub.connect(config.database.url, db, logger.child({ component: 'job-hub' }));
    };
    /** Modules whose `start` has run, to be stopped in reverse order. */
    const started: Array<{ module: AnyModule; services: unknown }> = [];
    const built: Array<{ module: AnyModule; services: unknown }> = [];
    const gatehouse: Gatehouse = {
      config,
      database,
      clock,
      logger,
      cache,
      hasher,
      outbox,
      notify,
      sessions,
      accessTokens,
      accounts,
      auth,
      identities,
      audit,
      access,
      apiKeys,
      users,
      mfa,
      limiterStore: limits,
      loginThrottle,
      quota,
      scheduler,
      files,
      hub,
      live,
      topics,
      queues,
      jobs,
      workerProtocol,
      jobHooks,
      builtinWorkers: new BuiltinWorkers({
        workers: builtinWorkerSpecs,
        threads: config.jobs.builtinWorkerThreads,
        accounts,
        apiKeys,
        logger: logger.child({ component: 'builtin-workers' }),
      }),
      modules: built,
      moduleServices<T>(name: string): T {
        const entry = built.find((b) => b.module.name === name);
        if (!entry) throw new Error(`No module called ${name} runs here.`);
        return entry.services as T;
      },
      isDatabaseReady: () => pingDatabase(db),
      start: (options = {}) => (starting ??= start(options.role ?? 'server')),
      startBackground: async () => {
        // SQLite: the CLI writes job events from its own process; the server's live streams poll for them.
        if (database.dataVersion) {
          const dataVersion = database.dataVersion;
          void hub.watchExternalWrites(db, dataVersion, logger.child({ component: 'job-hub' })).catch((error: unknown) =>
            logger.warn({ err: (error as Error).message }, 'could not start watching job events of other processes'),
          );
        }
        outbox.start();
        sweeper.start();
        scheduler.start();
        for (const entry of built) {
          await entry.module.start?.(entry.services);
          started.push(entry);
        }
      },
      close: () =>
        (closed ??= (async () => {
          await gatehouse.builtinWorkers.stop();
          for (const entry of [...started].reverse()) {
            try {
              await entry.module.stop?.(entry.services);
            } catch (error) {
              logger.warn({ module: entry.module.name, err: (error as Error).message }, 'a module failed to stop');
            }
          }
          await scheduler.stop();
          await sweeper.stop();
          await outbox.stop();
          live.disconnectAll();
          await hub.close();
          await listener?.stop();
          await limits.close();
          await database.close();
        })()),
    };
    // Modules build their services on the finished platform (no side effects until `start`).
    for (const { module, settings } of prepared) {
      const services = module.create({ gatehouse, settings });
      built.push({ module, services });
      if (module.jobHooks) jobHooks.add(module.jobHooks(services));
      if (module.fileAccess) files.addAccessRules(module.fileAccess(services));
      if (module.topics) live.addModuleTopics(module.topics(services));
      if (module.tasks) {
        const { tasks, schedules } = moduleSchedulerTasks(module.name, module.tasks(services), config.env);
        scheduler.addTasks(tasks, schedules);
      }
    }
    return gatehouse;
  } catch (error) {
    await hub.close();
    await listener?.stop();
    await limiterStore?.close();
    await database.close();
    throw error;
  }
}
