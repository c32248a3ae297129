/**
 * The composition root: wires configuration, database, clock, logger and every service into
 * one object. The HTTP app, the CLI and the tests all build Gatehouse through here, so they run
 * the very same services.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { AccountMails } from './accounts/account-mails.js';
import { AccountService } from './accounts/accounts.service.js';
import { AuthService } from './auth/auth.service.js';
import type { Config } from './config.js';
import { PasswordHasher } from './crypto/passwords.js';
import { type DatabaseHandle, openDatabase, pingDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createAccountEmailLimits } from './limits/rate-limits.js';
import { MailOutbox } from './mail/outbox.service.js';
import { createFileTransport, createSmtpTransport, type MailTransport } from './mail/transport.js';
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
import { AccessTokenService } from './tokens/access-tokens.service.js';

/** Product name used in emails and pages. */
export const APP_NAME = 'Gatehouse';

/** Everything a running Gatehouse is made of. */
export interface Gatehouse {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  cache: AuthCache;
  hasher: PasswordHasher;
  outbox: MailOutbox;
  sessions: SessionService;
  accessTokens: AccessTokenService;
  accounts: AccountService;
  auth: AuthService;
  /** True when the database answers a trivial query. */
  isDatabaseReady(): Promise<boolean>;
  /** Starts background work (the outbox dispatcher). */
  startBackground(): void;
  /** Stops background work and closes the database. Safe to call twice. */
  close(): Promise<void>;
}

/** Optional replacements for tests and embedding applications. */
export interface GatehouseOverrides {
  clock?: Clock;
  logger?: Logger;
  mailTransport?: MailTransport;
  database?: DatabaseHandle;
  /** Skip migrations (the caller already ran them). Default false. */
  skipMigrations?: boolean;
}

/**
 * Opens the database, applies pending migrations, loads signing keys and builds every service.
 * @throws when the database cannot be reached or a migration fails.
 */
export async function createGatehouse(config: Config, overrides: GatehouseOverrides = {}): Promise<Gatehouse> {
  const logger = overrides.logger ?? createLogger({ level: config.server.logLevel });
  const clock = overrides.clock ?? systemClock;
  const database = overrides.database ?? openDatabase(config.database);
  let listener: AuthChangeListener | undefined;
  try {
    if (!overrides.skipMigrations) {
      const { applied } = await migrateToLatest(database.db, database.dialect);
      if (applied.length) logger.info({ applied }, 'database migrated');
    }
    const db = database.db;
    const cache = new AuthCache();
    const changes = new AuthChanges(cache, database.dialect);
    if (database.dialect === 'postgres') {
      listener = await startPgAuthChangeListener(config.database.url, cache, logger.child({ component: 'auth-changes' }));
      cache.watchExternalChanges(listener);
    } else if (database.dataVersion) {
      cache.watchExternalChanges(sqliteDataVersionProbe(database.dataVersion));
    }
    const hasher = new PasswordHasher(config.auth.argon2);
    const transport =
      overrides.mailTransport ??
      (config.mail.smtpUrl
        ? createSmtpTransport(config.mail.smtpUrl)
        : createFileTransport(path.join(config.dataDir, 'mail')));
    const outbox = new MailOutbox({
      db,
      transport,
      clock,
      logger: logger.child({ component: 'outbox' }),
      from: config.mail.from,
      maxAttempts: config.mail.maxAttempts,
      pollSeconds: config.mail.pollSeconds,
    });
    const sessions = new SessionService({ db, clock, cache, changes, ttlSeconds: config.auth.sessionTtlSeconds });
    const accessTokens = new AccessTokenService({
      db,
      clock,
      issuer: config.server.publicUrl,
      ttlSeconds: config.auth.accessTokenTtlSeconds,
    });
    await accessTokens.init();
    const mails = new AccountMails({
      outbox,
      publicUrl: config.server.publicUrl,
      appName: APP_NAME,
      verifyTokenTtlSeconds: config.auth.verifyTokenTtlSeconds,
      resetTokenTtlSeconds: config.auth.resetTokenTtlSeconds,
    });
    const emailLimits = createAccountEmailLimits('account-email');
    const accounts = new AccountService({
      db,
      clock,
      hasher,
      sessions,
      changes,
      mails,
      requireEmailVerification: config.auth.requireEmailVerification,
      passwordMinScore: config.auth.passwordMinScore,
      verifyTokenTtlSeconds: config.auth.verifyTokenTtlSeconds,
      resetTokenTtlSeconds: config.auth.resetTokenTtlSeconds,
      emailLimits,
    });
    const auth = new AuthService({
      db,
      clock,
      logger: logger.child({ component: 'auth' }),
      hasher,
      sessions,
      accessTokens,
      changes,
      requireEmailVerification: config.auth.requireEmailVerification,
    });
    if (!config.mail.smtpUrl && !overrides.mailTransport) {
      logger.info({ dir: path.join(config.dataDir, 'mail') }, 'SMTP_URL is not set: emails are written as .eml files');
    }
    let closed: Promise<void> | undefined;
    return {
      config,
      database,
      clock,
      logger,
      cache,
      hasher,
      outbox,
      sessions,
      accessTokens,
      accounts,
      auth,
      isDatabaseReady: () => pingDatabase(db),
      startBackground: () => outbox.start(),
      close: () =>
        (closed ??= (async () => {
          await outbox.stop();
          await listener?.stop();
          await database.close();
        })()),
    };
  } catch (error) {
    await listener?.stop();
    await database.close();
    throw error;
  }
}
