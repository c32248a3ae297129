/**
 * Operator actions on users: list with filters, view, change (role, status, name, profile),
 * verify by hand, ban and unban, delete, and the public profile anyone may see.
 *
 * Every change that removes access (ban, deactivation, deletion, role change) takes effect on
 * the very next request: sessions and API keys are revoked in the same transaction and every
 * instance's auth cache is told (see `sessions/auth-changes.ts`).
 */
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { AccountMails } from '../accounts/account-mails.js';
import { PROFILE_MAX_BYTES, toUserView } from '../accounts/accounts.service.js';
import { normalizeEmail } from '../accounts/email.js';
import type { UserDirectory } from '../accounts/user-directory.service.js';
import type { ActorContext, AuditLog } from '../audit/audit.service.js';
import type { Database, UserRow, UserUpdate } from '../db/schema.js';
import { inTransaction, type Tx } from '../db/transaction.js';
import type { AuthChanges } from '../sessions/auth-changes.js';
import { isSupportedPasswordHash } from '../crypto/passwords.js';
import { isUniqueViolation } from '../db/executor.js';
import type { SessionService, SessionView } from '../sessions/sessions.service.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { pageOfRows } from '../shared/paging.js';
import { newId } from '../shared/ids.js';
import { revokeUserApiKeys } from './api-keys.repo.js';
import { addMember, findGroup, groupNamesOfUsers } from './groups.repo.js';
import type { AccessService } from './access.service.js';
import type { AdminUserView, PublicProfileView } from './access.views.js';
import { assertCanGrant, type Role, ROLE_PERMISSIONS } from './permissions.js';

/** The views this service returns (schemas in `access.views.ts`). */
export type { AdminUserView, PublicProfileView };

/** Filters for {@link UserAdminService.list}. */
export interface UserFilters {
  q?: string | undefined;
  role?: Role | undefined;
  /** Group id or name. */
  group?: string | undefined;
  status?: UserRow['status'] | undefined;
  verified?: boolean | undefined;
  banned?: boolean | undefined;
}

/** Changes an administrator may make with {@link UserAdminService.update}. */
export interface UserChanges {
  name?: string | undefined;
  role?: Role | undefined;
  status?: UserRow['status'] | undefined;
  profile?: Record<string, unknown> | undefined;
}

/**
 * A user as `users export` writes it and `users import` reads it back: every field needed to
 * recreate the account, including the password hash (so exports are secrets).
 */
export interface ExportedUser {
  id: string;
  email: string;
  name: string;
  role: UserRow['role'];
  status: UserRow['status'];
  email_verified_at: string | null;
  profile: Record<string, unknown>;
  groups: string[];
  banned_until: string | null;
  ban_reason: string | null;
  created_at: string;
  updated_at: string;
  /** argon2id (PHC string) for Gatehouse users; imports also accept argon2i and bcrypt. */
  password_hash: string;
}

/**
 * Stored instead of a hash for imported users that came without one: no password matches it,
 * so such users set a password through "forgot password".
 */
export const UNUSABLE_PASSWORD_HASH = '!';

const isoTime = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO-8601 time')
  .transform((v) => new Date(v).toISOString());

/** What `users import` accepts per record; fields beyond `email` are optional. */
const importSchema = z.object({
  id: z.string().uuid('must be a UUID').optional(),
  email: z.string().trim().max(254).regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address'),
  name: z.string().max(200).default(''),
  role: z.enum(['user', 'admin', 'worker']).default('user'),
  status: z.enum(['active', 'deactivated']).default('active'),
  email_verified_at: isoTime.nullable().optional(),
  /** Shorthand for systems that only know a flag: true = verified at import time. */
  email_verified: z.boolean().optional(),
  profile: z.record(z.string(), z.unknown()).default({}),
  groups: z.array(z.string().min(1)).default([]),
  banned_until: isoTime.nullable().default(null),
  ban_reason: z.string().max(500).nullable().default(null),
  created_at: isoTime.optional(),
  password_hash: z
    .string()
    .refine((v) => v === '' || isSupportedPasswordHash(v), 'must be an argon2id, argon2i or bcrypt ($2a$/$2b$/$2y$) hash')
    .optional(),
});

/** One record to import (see {@link UserAdminService.importUser}); unknown fields are ignored. */
export type ImportUserRecord = z.input<typeof importSchema>;

/** Thrown inside a dry-run import's transaction to roll it back after every check passed. */
class DryRunRollback extends Error {}

/** Options for {@link UserAdminService}. */
export interface UserAdminServiceOptions {
  db: Kysely<Database>;
  /** The `user` rows (the accounts module's service). */
  users: UserDirectory;
  clock: Clock;
  sessions: SessionService;
  changes: AuthChanges;
  audit: AuditLog;
  mails: AccountMails;
  /** Computes a target's effective permissions for the "no acting above your rank" check. */
  access: AccessService;
  /** Profile keys the public profile reveals. */
  publicProfileFields: string[];
  /** What each role grants; default {@link ROLE_PERMISSIONS} (feature modules add theirs). */
  roleGrants?: Readonly<Record<Role, readonly string[]>>;
}

export class UserAdminService {
  constructor(private readonly options: UserAdminServiceOptions) {}

  /** A page of users matching `filters`, in creation order. */
  async list(filters: UserFilters, page: { limit: number; afterId?: string | undefined }): Promise<{ items: AdminUserView[]; next: string | null }> {
    let groupId: string | undefined;
    if (filters.group) {
      const group = await findGroup(this.options.db, filters.group);
      if (!group) return { items: [], next: null };
      groupId = group.id;
    }
    const rows = await this.options.users.list({
      ...filters,
      groupId,
      limit: page.limit,
      afterId: page.afterId,
      nowIso: this.options.clock.now().toISOString(),
    });
    const groups = await groupNamesOfUsers(this.options.db, rows.slice(0, page.limit).map((u) => u.id));
    return pageOfRows(rows, page.limit, (u) => this.view(u, groups.get(u.id) ?? []));
  }

  /** One user. @throws AppError `not_found`. */
  async get(userId: string): Promise<AdminUserView> {
    const user = await this.requireUser(userId);
    const groups = await groupNamesOfUsers(this.options.db, [user.id]);
    return this.view(user, groups.get(user.id) ?? []);
  }

  /** One user by email (case-insensitive). @throws AppError `not_found`. */
  async getByEmail(email: string): Promise<AdminUserView> {
    const user = await this.options.users.findByEmail(email);
    if (!user) throw new AppError('not_found', `No user with email ${email}.`);
    return this.get(user.id);
  }

  /**
   * Changes a user. A role change or deactivation takes effect on the next request; deactivation
   * also revokes every session and API key.
   * @throws AppError `not_found`, `forbidden` (changing your own role or status),
   *   `privilege_escalation` (the user holds a permission the actor lacks).
   */
  async update(userId: string, changes: UserChanges, actor: ActorContext): Promise<AdminUserView> {
    const user = await this.requireUser(userId);
    if (actor.actorId === userId && (changes.role !== undefined || changes.status !== undefined)) {
      throw new AppError('forbidden', 'You cannot change your own role or status.');
    }
    if (actor.actorId !== userId) await this.assertMayActOn(actor, user);
    if (changes.role !== undefined) assertCanGrant(actor.permissions, (this.options.roleGrants ?? ROLE_PERMISSIONS)[changes.role], `the ${changes.role} role`);
    const now = this.options.clock.now().toISOString();
    await inTransaction(this.options.db, async (tx) => {
      const update: UserUpdate = { updated_at: now };
      if (changes.name !== undefined) update.name = changes.name.trim();
      if (changes.profile !== undefined) update.profile = JSON.stringify(changes.profile);
      if (changes.role !== undefined) update.role = changes.role;
      if (changes.status !== undefined) update.status = changes.status;
      await this.options.users.update(userId, update, tx.db);
      if (changes.role !== undefined && changes.role !== user.role) {
        await this.options.audit.record(tx.db, actor, {
          action: 'user.role_change',
          targetType: 'user',
          targetId: userId,
          details: { from: user.role, to: changes.role },
        });
      }
      if (changes.status === 'deactivated' && user.status !== 'deactivated') {
        await this.revokeEverything(tx, userId, 'deactivated_by_admin');
        await this.options.mails.accountDeactivated(tx, user, now);
        await this.options.audit.record(tx.db, actor, { action: 'user.deactivate', targetType: 'user', targetId: userId });
      } else {
        await this.options.changes.userChanged(tx, userId);
      }
      if (changes.name !== undefined || changes.profile !== undefined || changes.status === 'active') {
        await this.options.audit.record(tx.db, actor, {
          action: 'user.update',
          targetType: 'user',
          targetId: userId,
          details: { fields: Object.keys(changes).filter((k) => k !== 'role') },
        });
      }
    });
    return this.get(userId);
  }

  /** Marks a user's email verified by hand. @throws AppError `not_found`, `privilege_escalation`. */
  async verifyEmail(userId: string, actor: ActorContext): Promise<AdminUserView> {
    const user = await this.requireUser(userId);
    await this.assertMayActOn(actor, user);
    if (!user.email_verified_at) {
      const now = this.options.clock.now().toISOString();
      await inTransaction(this.options.db, async (tx) => {
        await this.options.users.update(userId, { email_verified_at: now, updated_at: now }, tx.db);
        await this.options.changes.userChanged(tx, userId);
        await this.options.audit.record(tx.db, actor, {
          action: 'user.verify_email_by_admin',
          targetType: 'user',
          targetId: userId,
        });
      });
    }
    return this.get(userId);
  }

  /**
   * Bans a user for `durationSeconds` or until `until` (neither: indefinitely). Revokes every
   * session, access token and API key at once and emails the user. A timed ban lifts itself:
   * sign-in is refused only while `banned_until` is in the future.
   * @throws AppError `not_found`, `validation_failed` (a time in the past), `forbidden` (banning yourself),
   *   `privilege_escalation` (the user holds a permission the actor lacks).
   */
  async ban(
    userId: string,
    input: {
      durationSeconds?: number | undefined;
      until?: string | undefined;
      reason?: string | undefined;
      /** Set by the quota service: recorded as `quota.auto_ban` instead of `user.ban`. */
      automatic?: boolean;
    },
    actor: ActorContext,
  ): Promise<AdminUserView> {
    const user = await this.requireUser(userId);
    if (actor.actorId === userId) throw new AppError('forbidden', 'You cannot ban yourself.');
    await this.assertMayActOn(actor, user);
    const now = this.options.clock.now();
    let until: Date;
    if (input.durationSeconds !== undefined) until = addSeconds(now, input.durationSeconds);
    else if (input.until !== undefined) until = new Date(input.until);
    else until = new Date('9999-12-31T23:59:59.000Z');
    if (Number.isNaN(until.getTime()) || until.getTime() <= now.getTime()) {
      throw new AppError('validation_failed', 'The ban must end in the future.', {
        errors: [{ field: input.until !== undefined ? '/until' : '/duration_s', message: 'must be in the future' }],
      });
    }
    const indefinite = input.durationSeconds === undefined && input.until === undefined;
    const reason = (input.reason ?? '').trim().slice(0, 500);
    await inTransaction(this.options.db, async (tx) => {
      await this.options.users.update(
        userId,
        { banned_until: until.toISOString(), ban_reason: reason || null, updated_at: now.toISOString() },
        tx.db,
      );
      await this.revokeEverything(tx, userId, 'banned');
      await this.options.mails.accountBanned(tx, user, indefinite ? null : until.toISOString(), reason, input.automatic ?? false);
      await this.options.audit.record(tx.db, actor, {
        action: input.automatic ? 'quota.auto_ban' : 'user.ban',
        targetType: 'user',
        targetId: userId,
        details: { until: until.toISOString(), reason },
      });
    });
    return this.get(userId);
  }

  /** Lifts a ban and emails the user. @throws AppError `not_found`, `privilege_escalation`, `conflict` when not banned. */
  async unban(userId: string, actor: ActorContext): Promise<AdminUserView> {
    const user = await this.requireUser(userId);
    await this.assertMayActOn(actor, user);
    const now = this.options.clock.now();
    if (!user.banned_until || Date.parse(user.banned_until) <= now.getTime()) {
      throw new AppError('conflict', 'The user is not banned.');
    }
    await inTransaction(this.options.db, async (tx) => {
      await this.options.users.update(userId, { banned_until: null, ban_reason: null, updated_at: now.toISOString() }, tx.db);
      await this.options.changes.userChanged(tx, userId);
      await this.options.mails.accountUnbanned(tx, user);
      await this.options.audit.record(tx.db, actor, { action: 'user.unban', targetType: 'user', targetId: userId });
    });
    return this.get(userId);
  }

  /**
   * Deletes a user and everything that is theirs (sessions, tokens, keys, memberships cascade);
   * the audit log keeps the event with the deleted email. Credentials stop working at once.
   * @throws AppError `not_found`, `forbidden` (deleting yourself: use DELETE /users/me),
   *   `privilege_escalation` (the user holds a permission the actor lacks).
   */
  async delete(userId: string, actor: ActorContext): Promise<void> {
    const user = await this.requireUser(userId);
    if (actor.actorId === userId) throw new AppError('forbidden', 'Use DELETE /api/v1/users/me for your own account.');
    await this.assertMayActOn(actor, user);
    await inTransaction(this.options.db, async (tx) => {
      await this.options.users.delete(userId, tx.db);
      await this.options.changes.userSessionsRevoked(tx, userId);
      await this.options.audit.record(tx.db, actor, {
        action: 'user.delete',
        targetType: 'user',
        targetId: userId,
        details: { email: user.email },
      });
    });
  }

  /** A user's active sessions (neither revoked nor expired), newest first. @throws AppError `not_found`. */
  async listSessions(userId: string): Promise<SessionView[]> {
    await this.requireUser(userId);
    return this.options.sessions.list(userId, null);
  }

  /**
   * Revokes one of a user's sessions, or all of them when `sessionId` is undefined; the refresh
   * tokens and access tokens of those sessions stop working at once.
   * @returns the number of sessions revoked.
   * @throws AppError `not_found` (no such user, or no such active session of theirs),
   *   `privilege_escalation` (the user holds a permission the actor lacks).
   */
  async revokeSessions(userId: string, sessionId: string | undefined, actor: ActorContext): Promise<number> {
    const user = await this.requireUser(userId);
    if (actor.actorId !== userId) await this.assertMayActOn(actor, user);
    const active = await this.options.sessions.list(userId, null);
    return inTransaction(this.options.db, async (tx) => {
      if (sessionId !== undefined) {
        await this.options.sessions.revokeOfUserInTx(tx, userId, sessionId, 'revoked_by_admin');
      } else {
        await this.options.sessions.revokeAllInTx(tx, userId, 'revoked_by_admin');
      }
      await this.options.audit.record(tx.db, actor, {
        action: 'session.revoke_by_admin',
        targetType: sessionId === undefined ? 'user' : 'session',
        targetId: sessionId ?? userId,
        details: { user_id: userId, all: sessionId === undefined },
      });
      return sessionId === undefined ? active.length : 1;
    });
  }

  /**
   * A page of users with everything `users import` needs to recreate them, password hashes
   * included, in creation order.
   */
  async exportPage(page: { limit: number; afterId?: string | undefined }): Promise<{ items: ExportedUser[]; next: string | null }> {
    const rows = await this.options.users.list({ limit: page.limit, afterId: page.afterId, nowIso: this.options.clock.now().toISOString() });
    const groups = await groupNamesOfUsers(this.options.db, rows.slice(0, page.limit).map((u) => u.id));
    return pageOfRows(rows, page.limit, (u) => ({
        id: u.id,
        email: u.email,
        name: u.name,
        role: u.role,
        status: u.status,
        email_verified_at: u.email_verified_at,
        profile: JSON.parse(u.profile) as Record<string, unknown>,
        groups: groups.get(u.id) ?? [],
        banned_until: u.banned_until,
        ban_reason: u.ban_reason,
        created_at: u.created_at,
        updated_at: u.updated_at,
        password_hash: u.password_hash ?? '',
      }));
  }

  /**
   * Creates one user from an exported or foreign record, in one transaction with its group
   * memberships and an audit entry. The password hash is stored as it is (argon2id, argon2i or
   * bcrypt; none: {@link UNUSABLE_PASSWORD_HASH}); foreign hashes become argon2id at the user's
   * next login. The record's `id` is kept when given and free, so an export imports back as it was.
   * With `dryRun` every check (including the database's constraints) runs and nothing is kept.
   * @throws AppError `validation_failed` (a bad field), `email_taken`, `conflict` (id taken),
   *   `not_found` (a group that does not exist).
   */
  async importUser(record: unknown, options: { dryRun?: boolean }, actor: ActorContext): Promise<ExportedUser> {
    const parsed = importSchema.safeParse(record);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => ({ field: `/${i.path.join('/')}`, message: i.message }));
      throw new AppError('validation_failed', errors.map((e) => `${e.field.slice(1) || 'record'}: ${e.message}`).join('; '), {
        errors,
      });
    }
    const input = parsed.data;
    const profile = JSON.stringify(input.profile);
    if (Buffer.byteLength(profile) > PROFILE_MAX_BYTES) {
      throw new AppError('validation_failed', `profile: must be at most ${PROFILE_MAX_BYTES} bytes of JSON`);
    }
    const now = this.options.clock.now().toISOString();
    const verifiedAt =
      input.email_verified_at !== undefined ? input.email_verified_at : input.email_verified ? now : null;
    const row = {
      id: input.id ?? newId(),
      email: input.email,
      email_normalized: normalizeEmail(input.email),
      password_hash: input.password_hash || UNUSABLE_PASSWORD_HASH,
      name: input.name.trim(),
      profile,
      role: input.role,
      status: input.status,
      email_verified_at: verifiedAt,
      banned_until: input.banned_until,
      ban_reason: input.ban_reason,
      created_at: input.created_at ?? now,
      updated_at: now,
    };
    if (await this.options.users.findByEmail(row.email)) throw new AppError('email_taken', `${row.email} already exists.`);
    if (input.id && (await this.options.users.findById(input.id))) {
      throw new AppError('conflict', `Another user already has the id ${input.id}.`);
    }
    const groupIds: string[] = [];
    for (const name of new Set(input.groups)) {
      const group = await findGroup(this.options.db, name);
      if (!group) throw new AppError('not_found', `No group "${name}".`);
      groupIds.push(group.id);
    }
    try {
      await inTransaction(this.options.db, async (tx) => {
        await this.options.users.insert(row, tx.db);
        for (const groupId of groupIds) await addMember(tx.db, groupId, row.id, now);
        await this.options.audit.record(tx.db, actor, {
          action: 'user.import',
          targetType: 'user',
          targetId: row.id,
          details: { email: row.email, hash: row.password_hash === UNUSABLE_PASSWORD_HASH || !row.password_hash ? 'none' : row.password_hash.split('$')[1] },
        });
        if (options.dryRun) throw new DryRunRollback();
      });
    } catch (error) {
      if (!(error instanceof DryRunRollback)) {
        if (isUniqueViolation(error)) throw new AppError('email_taken', `${row.email} already exists.`);
        throw error;
      }
    }
    return {
      ...row,
      profile: input.profile,
      groups: [...new Set(input.groups)],
    };
  }

  /** The public fields of an active user. @throws AppError `not_found` (also for deactivated users). */
  async publicProfile(userId: string): Promise<PublicProfileView> {
    const user = await this.options.users.findById(userId);
    if (!user || user.status !== 'active') throw new AppError('not_found', 'No such user.');
    const profile = JSON.parse(user.profile) as Record<string, unknown>;
    const visible: Record<string, unknown> = {};
    for (const key of this.options.publicProfileFields) if (Object.hasOwn(profile, key)) visible[key] = profile[key];
    return { id: user.id, name: user.name, profile: visible };
  }

  /** See {@link AccessService.assertMayActOn}. */
  private assertMayActOn(actor: ActorContext, target: UserRow): Promise<void> {
    return this.options.access.assertMayActOn(actor, target);
  }

  private async revokeEverything(tx: Tx, userId: string, reason: string): Promise<void> {
    await this.options.sessions.revokeAllInTx(tx, userId, reason);
    await revokeUserApiKeys(tx.db, userId, this.options.clock.now().toISOString());
  }

  private view(user: UserRow, groups: string[]): AdminUserView {
    // `has_password` is the user's own hint for re-authentication; the AdminUser shape stays as documented.
    const { has_password: _hasPassword, ...own } = toUserView(user);
    return {
      ...own,
      status: user.status,
      groups,
      banned_until: user.banned_until,
      ban_reason: user.ban_reason,
      updated_at: user.updated_at,
    };
  }

  private async requireUser(userId: string): Promise<UserRow> {
    const user = await this.options.users.findById(userId);
    if (!user) throw new AppError('not_found', 'No such user.');
    return user;
  }
}
