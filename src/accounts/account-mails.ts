/**
 * Renders and enqueues the account emails. Every method takes the transaction of the change
 * that caused the email, so mail and change commit together.
 */
import type { UserRow } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import type { MailOutbox } from '../mail/outbox.service.js';
import {
  accountBannedMail,
  accountDeactivatedMail,
  accountUnbannedMail,
  type MailContext,
  passwordChangedMail,
  registrationAttemptMail,
  resetPasswordMail,
  verifyEmailMail,
} from '../mail/templates.js';

/** Options for {@link AccountMails}. */
export interface AccountMailsOptions {
  outbox: MailOutbox;
  publicUrl: string;
  appName: string;
  verifyTokenTtlSeconds: number;
  resetTokenTtlSeconds: number;
}

export class AccountMails {
  constructor(private readonly options: AccountMailsOptions) {}

  /** Link and email for confirming an address. */
  async verifyEmail(tx: Tx, user: UserRow, token: string): Promise<void> {
    const url = `${this.options.publicUrl}/verify-email?token=${encodeURIComponent(token)}`;
    const hours = Math.round(this.options.verifyTokenTtlSeconds / 3600);
    await this.send(tx, user, 'verify_email', verifyEmailMail(this.context(user), url, hours));
  }

  /** Tells an existing owner that someone tried to register with their email. */
  async registrationAttempt(tx: Tx, user: UserRow): Promise<void> {
    const mail = registrationAttemptMail(
      this.context(user),
      `${this.options.publicUrl}/`,
      `${this.options.publicUrl}/forgot-password`,
    );
    await this.send(tx, user, 'registration_attempt', mail);
  }

  /** Link and email for resetting a password. */
  async resetPassword(tx: Tx, user: UserRow, token: string): Promise<void> {
    const url = `${this.options.publicUrl}/reset-password?token=${encodeURIComponent(token)}`;
    const minutes = Math.round(this.options.resetTokenTtlSeconds / 60);
    await this.send(tx, user, 'reset_password', resetPasswordMail(this.context(user), url, minutes));
  }

  /** Security notice after a password change or reset. */
  async passwordChanged(tx: Tx, user: UserRow, whenIso: string): Promise<void> {
    const mail = passwordChangedMail(this.context(user), `${this.options.publicUrl}/forgot-password`, whenIso);
    await this.send(tx, user, 'password_changed', mail);
  }

  /** Security notice after deactivation. */
  async accountDeactivated(tx: Tx, user: UserRow, whenIso: string): Promise<void> {
    await this.send(tx, user, 'account_deactivated', accountDeactivatedMail(this.context(user), whenIso));
  }

  /** Notice of a ban (`until` null = indefinite). */
  async accountBanned(tx: Tx, user: UserRow, until: string | null, reason: string): Promise<void> {
    await this.send(tx, user, 'account_banned', accountBannedMail(this.context(user), until, reason));
  }

  /** Notice that a ban was lifted. */
  async accountUnbanned(tx: Tx, user: UserRow): Promise<void> {
    await this.send(tx, user, 'account_unbanned', accountUnbannedMail(this.context(user)));
  }

  private context(user: UserRow): MailContext {
    return { appName: this.options.appName, publicUrl: this.options.publicUrl, name: user.name };
  }

  private async send(
    tx: Tx,
    user: UserRow,
    template: Parameters<MailOutbox['enqueue']>[2],
    mail: Parameters<MailOutbox['enqueue']>[3],
  ): Promise<void> {
    await this.options.outbox.enqueue(tx.db, user.email, template, mail);
    tx.afterCommit(() => this.options.outbox.wake());
  }
}
