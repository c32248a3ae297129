/**
 * The account notifications, as the account services call them. Every method takes the
 * transaction of the change that caused the notification, so message and change commit
 * together; {@link NotifyService} renders the templates, queues the outbox messages and wakes
 * the dispatcher after commit.
 */
import type { UserRow } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import { notifyUser, type NotifyService } from '../notify/notify.service.js';

/** Options for {@link AccountMails}. */
export interface AccountMailsOptions {
  notify: NotifyService;
  /** Base URL of the pages links open (FRONTEND_URL, else PUBLIC_URL), without trailing slash. */
  publicUrl: string;
  verifyTokenTtlSeconds: number;
  resetTokenTtlSeconds: number;
}

/**
 * The user as an email's addressee. A name is chosen by whoever registered or changed it, so it
 * goes only to a confirmed address: to an unconfirmed one it could carry a stranger's text
 * (a phishing line in the greeting) to someone who never asked for the mail.
 */
function addressee(user: Pick<UserRow, 'id' | 'email' | 'name' | 'email_verified_at'>, confirmed = user.email_verified_at !== null) {
  return notifyUser(confirmed ? user : { ...user, name: '' });
}

/** Account emails (to the user) and account events for the admins. */
export class AccountMails {
  constructor(private readonly options: AccountMailsOptions) {}

  /** Link and email for confirming an address. */
  async verifyEmail(tx: Tx, user: UserRow, token: string): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.verification_requested', {
      user: addressee(user),
      url: `${this.options.publicUrl}/verify-email?token=${encodeURIComponent(token)}`,
      ttl_hours: Math.round(this.options.verifyTokenTtlSeconds / 3600),
    });
  }

  /** Tells an existing owner that someone tried to register with their email. */
  async registrationAttempt(tx: Tx, user: UserRow): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.registration_attempted', {
      user: addressee(user),
      login_url: `${this.options.publicUrl}/`,
      reset_url: `${this.options.publicUrl}/forgot-password`,
    });
  }

  /** Tells the admins about a new self-service registration. */
  async userRegistered(tx: Tx, user: UserRow): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.registered', { user: notifyUser(user) });
  }

  /** Welcome email once the address is confirmed. */
  async welcome(tx: Tx, user: UserRow): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.verified', { user: addressee(user, true), login_url: `${this.options.publicUrl}/` });
  }

  /** Link and email for resetting a password. */
  async resetPassword(tx: Tx, user: UserRow, token: string): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.password_reset_requested', {
      user: addressee(user),
      url: `${this.options.publicUrl}/reset-password?token=${encodeURIComponent(token)}`,
      ttl_minutes: Math.round(this.options.resetTokenTtlSeconds / 60),
    });
  }

  /** Security notice after a password change or reset. */
  async passwordChanged(tx: Tx, user: UserRow, whenIso: string): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.password_changed', {
      user: addressee(user),
      reset_url: `${this.options.publicUrl}/forgot-password`,
      changed_at: whenIso,
    });
  }

  /**
   * Security notice that `count` API keys were revoked because the password was reset or
   * changed (`reason`), so scripts using them need new ones.
   */
  async apiKeysRevoked(tx: Tx, user: UserRow, count: number, reason: 'password_reset' | 'password_change', whenIso: string): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.api_keys_revoked', {
      user: notifyUser(user),
      count,
      reason,
      revoked_at: whenIso,
      reset_url: `${this.options.publicUrl}/forgot-password`,
    });
  }

  /** Link and email for confirming a new address; sent to `newEmail`, not to the current one. */
  async confirmEmailChange(tx: Tx, user: UserRow, newEmail: string, token: string): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.email_change_requested', {
      user: addressee({ ...user, email: newEmail }, false),
      url: `${this.options.publicUrl}/confirm-email?token=${encodeURIComponent(token)}`,
      ttl_hours: Math.round(this.options.verifyTokenTtlSeconds / 3600),
    });
  }

  /** Security notice to the OLD address (`user` is the row before the change) after an email change. */
  async emailChanged(tx: Tx, user: UserRow, newEmail: string, whenIso: string): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.email_changed', {
      user: addressee(user),
      new_email: newEmail,
      changed_at: whenIso,
      reset_url: `${this.options.publicUrl}/forgot-password`,
    });
  }

  /** Security notice after the user changed their own name or profile (`fields`: `name`, `profile`). */
  async profileUpdated(tx: Tx, user: UserRow, fields: string[], whenIso: string): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.profile_updated', {
      user: addressee(user),
      fields,
      updated_at: whenIso,
      reset_url: `${this.options.publicUrl}/forgot-password`,
    });
  }

  /** Security notice after deactivation. */
  async accountDeactivated(tx: Tx, user: UserRow, whenIso: string): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.deactivated', { user: addressee(user), deactivated_at: whenIso });
  }

  /** Notice of a ban (`until` null = indefinite) to the user, and to the admins. `automatic`: by the API quota. */
  async accountBanned(tx: Tx, user: UserRow, until: string | null, reason: string, automatic = false): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.banned', { user: addressee(user), until, reason, automatic });
  }

  /** Notice that a ban was lifted. */
  async accountUnbanned(tx: Tx, user: UserRow): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.unbanned', { user: addressee(user), login_url: `${this.options.publicUrl}/` });
  }
}
