/**
 * The account emails as functions: each returns a subject, a plain-text part and an HTML part,
 * rendered from the built-in notification templates (`src/notify/templates.ts`, Eta). Services
 * send notifications through `NotifyService`, which also applies the operator's `TEMPLATES_DIR`
 * overrides; these functions render the built-ins, for callers that only need an email.
 */
import { TemplateRenderer } from '../notify/templates.js';

/** Data every template may use. */
export interface MailContext {
  /** Product name shown in subjects and headers. */
  appName: string;
  /** Base URL of the server, no trailing slash. */
  publicUrl: string;
  /** Recipient's display name (may be empty). */
  name: string;
}

/** A rendered email. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** Names of the templates, as stored in `outbox.template`. */
export type TemplateName =
  | 'verify_email'
  | 'registration_attempt'
  | 'reset_password'
  | 'password_changed'
  | 'account_deactivated'
  | 'account_banned'
  | 'account_unbanned'
  | 'admin_digest';

export { escapeHtml } from './html-escape.js';

let builtIn: TemplateRenderer | undefined;

function render(template: string, ctx: MailContext, data: Record<string, unknown>): RenderedMail {
  builtIn ??= new TemplateRenderer();
  return builtIn.renderEmail(template, { ...data, appName: ctx.appName, publicUrl: ctx.publicUrl, name: ctx.name });
}

/** Verification link for a new account (and for resends). `url` carries the token. */
export function verifyEmailMail(ctx: MailContext, url: string, ttlHours: number): RenderedMail {
  return render('verify_email', ctx, { url, ttl_hours: ttlHours });
}

/** Sent to an existing account's owner when someone tries to register with their email. */
export function registrationAttemptMail(ctx: MailContext, loginUrl: string, resetUrl: string): RenderedMail {
  return render('registration_attempt', ctx, { login_url: loginUrl, reset_url: resetUrl });
}

/** Password reset link. `url` carries the single-use token. */
export function resetPasswordMail(ctx: MailContext, url: string, ttlMinutes: number): RenderedMail {
  return render('reset_password', ctx, { url, ttl_minutes: ttlMinutes });
}

/** Confirmation that the password changed. */
export function passwordChangedMail(ctx: MailContext, resetUrl: string, when: string): RenderedMail {
  return render('password_changed', ctx, { reset_url: resetUrl, changed_at: when });
}

/** Confirmation that the account was deactivated. */
export function accountDeactivatedMail(ctx: MailContext, when: string): RenderedMail {
  return render('account_deactivated', ctx, { deactivated_at: when });
}

/** Notice that an administrator banned the account (`until` is an ISO time, or null for indefinitely). */
export function accountBannedMail(ctx: MailContext, until: string | null, reason: string): RenderedMail {
  return render('account_banned', ctx, { until, reason });
}

/** Notice that the ban was lifted. */
export function accountUnbannedMail(ctx: MailContext): RenderedMail {
  return render('account_unbanned', ctx, { login_url: `${ctx.publicUrl}/` });
}
