/**
 * Accounts: registration, email verification, password reset and change, email change, the
 * user's own profile, self-deactivation, and the operator actions the CLI needs.
 *
 * Anti-enumeration (OWASP Authentication Cheat Sheet): registration, resend-verification and
 * forgot-password answer the same way whether or not the email has an account, and spend the
 * same argon2 time either way. An email change answers the same whether or not the new address
 * is taken, and then sends nothing at all (not even a notice to that address's owner: it would let
 * any signed-in user make the server mail arbitrary account holders).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { isUniqueViolation } from '../db/executor.js';
import type { Database, NewUserRow, UserRow } from '../db/schema.js';
import { inTransaction, type Tx } from '../db/transaction.js';
import { assertPasswordStrength, isSupportedPasswordHash, type PasswordHasher } from '../crypto/passwords.js';
import { generateToken, hashToken, looksLikeToken } from '../crypto/tokens.js';
import type { KeyedLimiter } from '../limits/rate-limits.js';
import type { AuthChanges } from '../sessions/auth-changes.js';
import { type ActorContext, type AuditLog, SYSTEM_ACTOR } from '../audit/audit.service.js';
import type { ClientInfo, SessionService } from '../sessions/sessions.service.js';
import type { Principal } from '../auth/auth.service.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { AppError, isAppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import type { ApiKeyService } from '../access/api-keys.service.js';
import type { AccountMails } from './account-mails.js';
import {
  consumeEmailChangeToken,
  consumeOneTimeToken,
  findValidOneTimeToken,
  insertOneTimeToken,
  invalidateOneTimeTokens,
} from './one-time-tokens.repo.js';
import { normalizeEmail } from './email.js';
import { findUserByEmail, findUserById, insertUser, updateUser } from './users.repo.js';
import type { Static } from '@sinclair/typebox';
import type { UserSchema } from '../http/schemas.js';

/** Largest accepted serialised `profile` object, in bytes. */
export const PROFILE_MAX_BYTES = 16 * 1024;

/**
 * A user as the API shows it to themselves (and to admins): the `User` component
 * (`UserSchema`), with `profile` typed as the free-form object the schema allows.
 */
export type UserView = Omit<Static<typeof UserSchema>, 'profile'> & { profile: Record<string, unknown> };

/** Converts a row to its API view (never includes the password hash). */
export function toUserView(user: UserRow): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    email_verified: user.email_verified_at !== null,
    role: user.role,
    profile: JSON.parse(user.profile) as Record<string, unknown>,
    created_at: user.created_at,
    has_password: hasUsablePassword(user),
  };
}

/**
 * Whether the account has a password anyone could know: false for accounts made through a
 * sign-in provider (`password_hash` null) and for imported accounts without one (an unusable
 * hash such as `!`). Such accounts re-authenticate by signing in again instead.
 */
export function hasUsablePassword(user: Pick<UserRow, 'password_hash'>): boolean {
  return user.password_hash !== null && isSupportedPasswordHash(user.password_hash);
}

/** The login guard's client (IP, user agent) of an audit actor. */
function clientOf(actor: ActorContext): ClientInfo {
  return { ip: actor.ip, userAgent: actor.userAgent };
}

/**
 * `JSON.stringify` of a profile, or null when it nests too deeply to serialise (a small body can
 * nest thousands of levels and overflow the stack: that is bad input, not a server error).
 */
function serialiseProfile(profile: Record<string, unknown>): string | null {
  try {
    return JSON.stringify(profile);
  } catch (error) {
    if (error instanceof RangeError) return null;
    throw error;
  }
}

/** What {@link AccountService.register} did, without revealing whether the email existed. */
export type RegisterOutcome = { kind: 'accepted' } | { kind: 'created'; user: UserView };

/**
 * Re-authentication, implemented by the auth module (`AuthService`) and injected by the
 * container: every check of a current password here goes through the same login guard as
 * sign-in (OWASP ASVS V2.2.1).
 */
export interface Reauthentication {
  /**
   * Checks the signed-in user's current password behind the login guard.
   * @returns false for a wrong password (counted as a failed sign-in).
   * @throws AppError `rate_limited` (429) while this email/IP is locked out.
   */
  verifyCurrentPassword(user: Pick<UserRow, 'id' | 'email'>, password: string, client: ClientInfo): Promise<boolean>;
  /**
   * The password, or (password undefined) a browser sign-in within FRESH_SIGN_IN_SECONDS.
   * @throws AppError `reauthentication_required` (403), `rate_limited` (429).
   */
  confirmIdentity(principal: Principal, password: string | undefined, client: ClientInfo): Promise<void>;
}

/** Options for {@link AccountService}. */
export interface AccountServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  hasher: PasswordHasher;
  sessions: SessionService;
  changes: AuthChanges;
  audit: AuditLog;
  mails: AccountMails;
  /** Revokes a user's API keys when their password is reset or changed. */
  apiKeys: ApiKeyService;
  /** Current-password checks and re-authentication, behind the login guard. */
  reauth: Reauthentication;
  requireEmailVerification: boolean;
  passwordMinScore: number;
  verifyTokenTtlSeconds: number;
  resetTokenTtlSeconds: number;
  /** Limits for resend-verification and forgot-password (per IP visible, per email silent). */
  emailLimits: { perIp: KeyedLimiter; perEmail: KeyedLimiter };
  /**
   * Limits for registration: per IP (visible 429, RATE_LIMIT_REGISTER_PER_IP_PER_HOUR) and per
   * address (silent: past it no more registration emails go to the address).
   */
  registerLimits: { perIp: KeyedLimiter; perEmail: KeyedLimiter };
}

/** Input of {@link AccountService.createUser} (operators, CLI). */
export interface CreateUserInput {
  email: string;
  password: string;
  name?: string;
  role?: UserRow['role'];
  /** Mark the email verified (an operator vouches for it). Default true. */
  verified?: boolean;
}

/** A new active user's row: an empty profile, `email_normalized` derived, created and updated `now` (ISO). */
function newUserRow(input: { email: string; passwordHash: string | null; name: string; role: UserRow['role']; verifiedAt: string | null; now: string }): NewUserRow {
  return {
    id: newId(),
    email: input.email,
    email_normalized: normalizeEmail(input.email),
    password_hash: input.passwordHash,
    name: input.name,
    profile: '{}',
    role: input.role,
    status: 'active',
    email_verified_at: input.verifiedAt,
    created_at: input.now,
    updated_at: input.now,
  };
}

export class AccountService {
  constructor(private readonly options: AccountServiceOptions) {}

  /**
   * Registers an account. With email verification on, answers `accepted` for new and existing
   * emails alike (an existing owner is told by email); off, returns the new user.
   *
   * Each client IP may register RATE_LIMIT_REGISTER_PER_IP_PER_HOUR times an hour, counted alike
   * for new and existing emails; each address gets at most 3 registration emails an hour (past
   * that the answer is unchanged and nothing is sent), so registration cannot flood a mailbox.
   *
   * @throws AppError `weak_password` (422); `email_taken` (409) only when verification is off;
   *   `rate_limited` (429) when this IP registered too often (`actor.ip`; not counted without one).
   */
  async register(
    input: { email: string; password: string; name?: string | undefined },
    actor: ActorContext = SYSTEM_ACTOR,
  ): Promise<RegisterOutcome> {
    const email = input.email.trim();
    const name = (input.name ?? '').trim();
    assertPasswordStrength(input.password, this.options.passwordMinScore, [email, name]);
    // Before any work or lookup: the same for new and existing emails, so it reveals nothing.
    if (actor.ip) await this.options.registerLimits.perIp.consumeOrThrow(actor.ip);
    // Hash before looking the email up, so both paths spend the same argon2 time.
    const passwordHash = await this.options.hasher.hash(input.password);
    const existing = await findUserByEmail(this.options.db, email);
    if (existing) {
      if (!this.options.requireEmailVerification) throw new AppError('email_taken');
      await this.tellOwnerOfAttempt(existing);
      return { kind: 'accepted' };
    }
    const now = this.options.clock.now().toISOString();
    try {
      const user = await inTransaction(this.options.db, async (tx) => {
        const created = await insertUser(tx.db, newUserRow({ email, passwordHash, name, role: 'user', verifiedAt: null, now }));
        if (this.options.requireEmailVerification && (await this.mayMailRegistrant(created.email_normalized))) {
          const token = await this.issueOneTimeToken(tx.db, created.id, 'verify_email');
          await this.options.mails.verifyEmail(tx, created, token);
        }
        await this.recordRegistration(tx, created, actor);
        return created;
      });
      return this.options.requireEmailVerification ? { kind: 'accepted' } : { kind: 'created', user: toUserView(user) };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // Lost a race with a concurrent registration of the same email.
      if (!this.options.requireEmailVerification) throw new AppError('email_taken');
      return { kind: 'accepted' };
    }
  }

  /**
   * Creates the account of a person signing in through a provider for the first time, inside the
   * caller's transaction (which also links the provider account): no password (`password_hash`
   * null: password sign-in fails for it like a wrong password, and its owner can set one through
   * "forgot password"), role `user`. The email counts as verified only when the provider vouched
   * for it; otherwise, with AUTH_REQUIRE_EMAIL_VERIFICATION on, a verification link is emailed as
   * at registration. The admins are told of the new account, as of a registration.
   * @throws the driver's unique violation when the email has an account (the caller decides).
   */
  async createWithoutPassword(
    tx: Tx,
    input: { email: string; name: string; emailVerified: boolean; provider: string },
    actor: ActorContext = SYSTEM_ACTOR,
  ): Promise<UserRow> {
    const now = this.options.clock.now().toISOString();
    const created = await insertUser(
      tx.db,
      newUserRow({ email: input.email.trim(), passwordHash: null, name: input.name.trim().slice(0, 200), role: 'user', verifiedAt: input.emailVerified ? now : null, now }),
    );
    if (!input.emailVerified && this.options.requireEmailVerification) {
      const token = await this.issueOneTimeToken(tx.db, created.id, 'verify_email');
      await this.options.mails.verifyEmail(tx, created, token);
    }
    await this.recordRegistration(tx, created, actor, { provider: input.provider });
    return created;
  }

  /** What every new account gets, in its creating transaction: the admins' notice and the `user.register` audit entry (with `details`, e.g. the provider). */
  private async recordRegistration(tx: Tx, created: UserRow, actor: ActorContext, details?: Record<string, unknown>): Promise<void> {
    await this.options.mails.userRegistered(tx, created);
    await this.options.audit.record(tx.db, { ...actor, actorId: created.id }, {
      action: 'user.register',
      targetType: 'user',
      targetId: created.id,
      ...(details ? { details } : {}),
    });
  }

  /**
   * Confirms an email with a token from the verification link (single use).
   * @throws AppError `invalid_token` (400) for unknown, expired or used tokens.
   */
  async verifyEmail(token: string, actor: ActorContext = SYSTEM_ACTOR): Promise<void> {
    if (!looksLikeToken(token)) throw new AppError('invalid_token');
    const now = this.options.clock.now().toISOString();
    const userId = await inTransaction(this.options.db, async (tx) => {
      const id = await consumeOneTimeToken(tx.db, hashToken(token), 'verify_email', now);
      if (!id) return undefined;
      const user = await findUserById(tx.db, id);
      if (user && !user.email_verified_at) {
        await updateUser(tx.db, id, { email_verified_at: now, updated_at: now });
        await this.options.changes.userChanged(tx, id);
        await this.options.mails.welcome(tx, user);
        await this.options.audit.record(tx.db, { ...actor, actorId: id }, {
          action: 'user.verify_email',
          targetType: 'user',
          targetId: id,
        });
      }
      return id;
    });
    if (!userId) throw new AppError('invalid_token');
  }

  /**
   * Sends a new verification link if the email belongs to an unverified, active account.
   * Always resolves the same way for unknown emails.
   * @throws AppError `rate_limited` (429) when this IP asked too often.
   */
  async resendVerification(email: string, ip: string): Promise<void> {
    await this.options.emailLimits.perIp.consumeOrThrow(ip);
    const user = await findUserByEmail(this.options.db, email);
    if (!user || user.email_verified_at || user.status !== 'active') return;
    if (!(await this.options.emailLimits.perEmail.tryConsume(user.email_normalized))) return;
    await inTransaction(this.options.db, async (tx) => {
      await invalidateOneTimeTokens(tx.db, user.id, 'verify_email', this.options.clock.now().toISOString());
      const token = await this.issueOneTimeToken(tx.db, user.id, 'verify_email');
      await this.options.mails.verifyEmail(tx, user, token);
    });
  }

  /**
   * Emails a password reset link (1 hour, single use) if the email belongs to an active account.
   * @throws AppError `rate_limited` (429) when this IP asked too often.
   */
  async forgotPassword(email: string, ip: string): Promise<void> {
    await this.options.emailLimits.perIp.consumeOrThrow(ip);
    const user = await findUserByEmail(this.options.db, email);
    if (!user || user.status !== 'active') return;
    if (!(await this.options.emailLimits.perEmail.tryConsume(user.email_normalized))) return;
    await inTransaction(this.options.db, async (tx) => {
      await invalidateOneTimeTokens(tx.db, user.id, 'reset_password', this.options.clock.now().toISOString());
      const token = await this.issueOneTimeToken(tx.db, user.id, 'reset_password');
      await this.options.mails.resetPassword(tx, user, token);
    });
  }

  /**
   * Sets a new password from a reset link, signs the user out everywhere, revokes every API key
   * (whoever needed the reset may not be the only one holding them), marks the email verified
   * (the link proved ownership) and sends a notice (and one listing the revoked keys).
   * @throws AppError `invalid_token` (400), `weak_password` (422).
   */
  async resetPassword(token: string, newPassword: string, actor: ActorContext = SYSTEM_ACTOR): Promise<void> {
    if (!looksLikeToken(token)) throw new AppError('invalid_token');
    const tokenHash = hashToken(token);
    const found = await findValidOneTimeToken(
      this.options.db,
      tokenHash,
      'reset_password',
      this.options.clock.now().toISOString(),
    );
    const user = found && (await findUserById(this.options.db, found.user_id));
    if (!user || user.status !== 'active') throw new AppError('invalid_token');
    assertPasswordStrength(newPassword, this.options.passwordMinScore, [user.email, user.name]);
    const passwordHash = await this.options.hasher.hash(newPassword);
    const now = this.options.clock.now().toISOString();
    const ok = await inTransaction(this.options.db, async (tx) => {
      if (!(await consumeOneTimeToken(tx.db, tokenHash, 'reset_password', now))) return false;
      await updateUser(tx.db, user.id, {
        password_hash: passwordHash,
        email_verified_at: user.email_verified_at ?? now,
        updated_at: now,
      });
      await invalidateOneTimeTokens(tx.db, user.id, 'reset_password', now);
      await this.options.sessions.revokeAllInTx(tx, user.id, 'password_reset');
      const keys = await this.options.apiKeys.revokeAllOfUserInTx(tx, user.id);
      await this.options.mails.passwordChanged(tx, user, now);
      if (keys > 0) await this.options.mails.apiKeysRevoked(tx, user, keys, 'password_reset', now);
      await this.options.audit.record(tx.db, { ...actor, actorId: user.id }, {
        action: 'user.password_reset',
        targetType: 'user',
        targetId: user.id,
      });
      return true;
    });
    if (!ok) throw new AppError('invalid_token');
  }

  /**
   * Changes the password of a signed-in user; their other sessions and tokens are revoked, the
   * current one stays. Their API keys are revoked too unless `options.revokeApiKeys` is false
   * (default true); revoked keys are listed in a notice by email. The current password is checked
   * behind the login guard (wrong ones count towards the sign-in lockout of the account's email
   * from `actor.ip`).
   * @throws AppError `invalid_current_password` (400), `rate_limited` (429) while locked out
   *   (nothing is verified then), `weak_password` (422).
   */
  async changePassword(
    user: UserRow,
    currentSessionId: string | undefined,
    current: string,
    next: string,
    actor: ActorContext = SYSTEM_ACTOR,
    options: { revokeApiKeys?: boolean | undefined } = {},
  ): Promise<void> {
    const fresh = await this.requireUser(user.id);
    if (!(await this.options.reauth.verifyCurrentPassword(fresh, current, clientOf(actor)))) {
      throw new AppError('invalid_current_password');
    }
    assertPasswordStrength(next, this.options.passwordMinScore, [fresh.email, fresh.name]);
    const passwordHash = await this.options.hasher.hash(next);
    const now = this.options.clock.now().toISOString();
    await inTransaction(this.options.db, async (tx) => {
      await updateUser(tx.db, fresh.id, { password_hash: passwordHash, updated_at: now });
      await invalidateOneTimeTokens(tx.db, fresh.id, 'reset_password', now);
      await this.options.sessions.revokeAllInTx(tx, fresh.id, 'password_changed', currentSessionId);
      const keys = options.revokeApiKeys === false ? 0 : await this.options.apiKeys.revokeAllOfUserInTx(tx, fresh.id);
      await this.options.mails.passwordChanged(tx, fresh, now);
      if (keys > 0) await this.options.mails.apiKeysRevoked(tx, fresh, keys, 'password_change', now);
      await this.options.audit.record(tx.db, actor, {
        action: 'user.password_change',
        targetType: 'user',
        targetId: fresh.id,
      });
    });
  }

  /**
   * Starts an email change after re-checking the password: emails a single-use confirmation link
   * (lifetime `verifyTokenTtlSeconds`) to the NEW address, with the address stored alongside the
   * token; nothing changes until the link is used. When the new address belongs to another
   * account (or is already this account's, exactly), resolves the same way and sends nothing, so
   * the answer never reveals whether an address has an account. Silently at most 3 links per
   * user per hour; each new link invalidates the previous one. The password is checked behind
   * the login guard, as at sign-in (keyed by the account's email and `actor.ip`).
   * @throws AppError `invalid_current_password` (400), `rate_limited` (429) while locked out.
   */
  async requestEmailChange(userId: string, newEmail: string, password: string, actor: ActorContext = SYSTEM_ACTOR): Promise<void> {
    const user = await this.requireUser(userId);
    if (!(await this.options.reauth.verifyCurrentPassword(user, password, clientOf(actor)))) {
      throw new AppError('invalid_current_password');
    }
    const email = newEmail.trim();
    const existing = await findUserByEmail(this.options.db, email);
    // A different case of the user's own address is a change; any other existing owner is not.
    if (existing && (existing.id !== user.id || existing.email === email)) return;
    if (user.status !== 'active') return;
    if (!(await this.options.emailLimits.perEmail.tryConsume(`change_email:${user.id}`))) return;
    await inTransaction(this.options.db, async (tx) => {
      await invalidateOneTimeTokens(tx.db, user.id, 'change_email', this.options.clock.now().toISOString());
      const token = await this.issueOneTimeToken(tx.db, user.id, 'change_email', email);
      await this.options.mails.confirmEmailChange(tx, user, email, token);
    });
  }

  /**
   * Completes an email change with the token from the confirmation link: consumes the token,
   * sets the new address (verified: the link proved it), invalidates every outstanding reset,
   * verification and change link (a reset link mailed to the old address must not outlive it),
   * signs out every other session of the user as a password change does (the one confirming,
   * `current`, stays when it is the same user's), writes the audit entry and sends a notice to
   * the OLD address, all in one transaction. API keys stay.
   * @param current the signed-in session making the request, if any.
   * @throws AppError `invalid_token` (400) for unknown, expired or used tokens; `email_taken`
   * (409) when another account took the address after the link was sent (the token stays unused).
   */
  async confirmEmailChange(
    token: string,
    actor: ActorContext = SYSTEM_ACTOR,
    current?: { userId: string; sessionId: string | undefined },
  ): Promise<void> {
    if (!looksLikeToken(token)) throw new AppError('invalid_token');
    const now = this.options.clock.now().toISOString();
    try {
      await inTransaction(this.options.db, async (tx) => {
        const found = await consumeEmailChangeToken(tx.db, hashToken(token), now);
        if (!found) throw new AppError('invalid_token');
        const user = await findUserById(tx.db, found.user_id);
        if (!user || user.status !== 'active') throw new AppError('invalid_token');
        const owner = await findUserByEmail(tx.db, found.new_email);
        if (owner && owner.id !== user.id) throw new AppError('email_taken');
        await updateUser(tx.db, user.id, {
          email: found.new_email,
          email_normalized: normalizeEmail(found.new_email),
          email_verified_at: now,
          updated_at: now,
        });
        // Links sent for the old address (or earlier change requests) no longer apply: whoever
        // still reads the old mailbox must not be able to reset the password with them.
        for (const purpose of ['change_email', 'verify_email', 'reset_password'] as const) {
          await invalidateOneTimeTokens(tx.db, user.id, purpose, now);
        }
        const keep = current?.userId === user.id ? current.sessionId : undefined;
        await this.options.sessions.revokeAllInTx(tx, user.id, 'email_changed', keep);
        await this.options.mails.emailChanged(tx, user, found.new_email, now);
        await this.options.audit.record(tx.db, { ...actor, actorId: user.id }, {
          action: 'user.email_change',
          targetType: 'user',
          targetId: user.id,
          details: { from: user.email, to: found.new_email },
        });
      });
    } catch (error) {
      // Lost a race with a registration (or another change) to the same address.
      if (isUniqueViolation(error)) throw new AppError('email_taken');
      throw error;
    }
  }

  /**
   * Updates the caller's name and/or profile (the profile object is replaced whole).
   * @throws AppError `validation_failed` (400) when the profile is larger than {@link PROFILE_MAX_BYTES}.
   */
  async updateProfile(
    userId: string,
    changes: { name?: string | undefined; profile?: Record<string, unknown> | undefined },
  ): Promise<UserView> {
    const update: { name?: string; profile?: string; updated_at: string } = {
      updated_at: this.options.clock.now().toISOString(),
    };
    if (changes.name !== undefined) update.name = changes.name.trim();
    if (changes.profile !== undefined) {
      const serialised = serialiseProfile(changes.profile);
      if (serialised === null || Buffer.byteLength(serialised) > PROFILE_MAX_BYTES) {
        throw new AppError('validation_failed', `The profile may be at most ${PROFILE_MAX_BYTES} bytes of JSON.`, {
          errors: [{ field: '/profile', message: `must be at most ${PROFILE_MAX_BYTES} bytes when serialised` }],
        });
      }
      update.profile = serialised;
    }
    const updated = await inTransaction(this.options.db, async (tx) => {
      const row = await updateUser(tx.db, userId, update);
      if (row) {
        await this.options.changes.userChanged(tx, userId);
        const fields = [...(changes.name !== undefined ? ['name'] : []), ...(changes.profile !== undefined ? ['profile'] : [])];
        if (fields.length) await this.options.mails.profileUpdated(tx, row, fields, update.updated_at);
      }
      return row;
    });
    if (!updated) throw new AppError('not_found', 'No such user.');
    return toUserView(updated);
  }

  /**
   * Deactivates the caller's own account once they proved who they are again (OWASP ASVS V6.2 /
   * Authentication Cheat Sheet, "require re-authentication for sensitive features"): with
   * `password`, checked behind the login guard; without it, only from a browser session signed
   * in within FRESH_SIGN_IN_SECONDS (the rule of `AuthService.confirmIdentity`), which is how an
   * account without a password (provider or passkey sign-in) deletes itself: sign in again, then
   * delete. Revokes every session, token and API key and sends a notice.
   * @param principal the caller (its user, and the session whose age may stand in for the password).
   * @param password the current password, or undefined to rely on a fresh browser sign-in.
   * @throws AppError `invalid_current_password` (400) for a wrong password (the code clients
   *   already handle); `reauthentication_required` (403) without a password when the sign-in is
   *   not fresh or the credential is an access token or API key; `rate_limited` (429) while the
   *   login guard locks this email/IP out.
   */
  async deactivateSelf(principal: Principal, password: string | undefined, actor: ActorContext = SYSTEM_ACTOR): Promise<void> {
    const user = await this.requireUser(principal.user.id);
    if (password === undefined) {
      await this.options.reauth.confirmIdentity(principal, undefined, clientOf(actor));
    } else if (!(await this.options.reauth.verifyCurrentPassword(user, password, clientOf(actor)))) {
      throw new AppError('invalid_current_password');
    }
    await this.deactivate(user, actor);
  }

  /** The user with this id as an API view. @throws AppError `not_found`. */
  async getUser(userId: string): Promise<UserView> {
    return toUserView(await this.requireUser(userId));
  }

  /**
   * Creates an account directly (operators, CLI): no verification mail, email verified by default.
   * @throws AppError `email_taken` (409), `weak_password` (422).
   */
  /**
   * The account of a service identity (the built-in workers'): created on first use with a random
   * password nobody knows (it signs in only through API keys the server mints for itself), or the
   * existing one. @throws AppError `conflict` when the email belongs to an account of another role.
   */
  async ensureServiceUser(input: { email: string; name: string; role: 'worker' }): Promise<UserView> {
    const existing = await findUserByEmail(this.options.db, input.email);
    if (existing) {
      if (existing.role !== input.role) throw new AppError('conflict', `${input.email} belongs to an account that is not a ${input.role}.`);
      return toUserView(existing);
    }
    try {
      return await this.createUser({ ...input, password: randomBytes(32).toString('base64url') });
    } catch (error) {
      // Another instance created it at the same moment.
      const raced = isAppError(error, 'email_taken') ? await findUserByEmail(this.options.db, input.email) : undefined;
      if (raced) return toUserView(raced);
      throw error;
    }
  }

  async createUser(input: CreateUserInput): Promise<UserView> {
    const email = input.email.trim();
    const name = (input.name ?? '').trim();
    assertPasswordStrength(input.password, this.options.passwordMinScore, [email, name]);
    const passwordHash = await this.options.hasher.hash(input.password);
    const now = this.options.clock.now().toISOString();
    try {
      const user = await insertUser(
        this.options.db,
        newUserRow({ email, passwordHash, name, role: input.role ?? 'user', verifiedAt: input.verified === false ? null : now, now }),
      );
      return toUserView(user);
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('email_taken');
      throw error;
    }
  }

  private async deactivate(user: UserRow, actor: ActorContext): Promise<void> {
    const now = this.options.clock.now().toISOString();
    await inTransaction(this.options.db, async (tx) => {
      await updateUser(tx.db, user.id, { status: 'deactivated', updated_at: now });
      await this.options.sessions.revokeAllInTx(tx, user.id, 'account_deactivated');
      await this.options.mails.accountDeactivated(tx, user, now);
      await this.options.audit.record(tx.db, actor, { action: 'user.deactivate', targetType: 'user', targetId: user.id });
    });
  }

  private async tellOwnerOfAttempt(user: UserRow): Promise<void> {
    if (user.status !== 'active') return;
    if (!(await this.mayMailRegistrant(user.email_normalized))) return;
    await inTransaction(this.options.db, (tx) => this.options.mails.registrationAttempt(tx, user));
  }

  /** Spends one of the address's registration emails (3 an hour); false when none is left. */
  private mayMailRegistrant(emailNormalized: string): Promise<boolean> {
    return this.options.registerLimits.perEmail.tryConsume(emailNormalized);
  }

  private async issueOneTimeToken(
    db: Parameters<typeof insertOneTimeToken>[0],
    userId: string,
    purpose: 'verify_email' | 'reset_password' | 'change_email',
    newEmail: string | null = null,
  ): Promise<string> {
    const token = generateToken();
    const now = this.options.clock.now();
    const ttl = purpose === 'reset_password' ? this.options.resetTokenTtlSeconds : this.options.verifyTokenTtlSeconds;
    await insertOneTimeToken(db, {
      id: newId(),
      user_id: userId,
      purpose,
      token_hash: hashToken(token),
      created_at: now.toISOString(),
      expires_at: addSeconds(now, ttl).toISOString(),
      used_at: null,
      new_email: newEmail,
    });
    return token;
  }

  private async requireUser(userId: string): Promise<UserRow> {
    const user = await findUserById(this.options.db, userId);
    if (!user) throw new AppError('not_found', 'No such user.');
    return user;
  }
}
