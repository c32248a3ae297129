/**
 * Email templates: each returns a subject, a plain-text part and an HTML part.
 *
 * The HTML is a single-column, table-free layout with inline styles (what mail clients render
 * reliably), `lang` and `role="presentation"`-free semantic markup, a visible URL under every
 * button for clients that block links, and a colour contrast above WCAG AA.
 */

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
  | 'account_unbanned';

/** Escapes text for HTML element and attribute content. */
export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function greeting(ctx: MailContext): string {
  return ctx.name ? `Hello ${ctx.name},` : 'Hello,';
}

interface Layout {
  title: string;
  paragraphs: string[];
  action?: { label: string; url: string };
  footer: string;
}

function renderHtml(ctx: MailContext, layout: Layout): string {
  const paragraphs = layout.paragraphs
    .map((p) => `<p style="margin:0 0 16px;font-size:16px;line-height:1.5;color:#1f2933">${escapeHtml(p)}</p>`)
    .join('\n');
  const action = layout.action
    ? `<p style="margin:24px 0"><a href="${escapeHtml(layout.action.url)}" style="display:inline-block;background:#1d4ed8;color:#ffffff;text-decoration:none;font-weight:600;padding:12px 20px;border-radius:6px">${escapeHtml(layout.action.label)}</a></p>
<p style="margin:0 0 16px;font-size:14px;line-height:1.5;color:#3e4c59">If the button does not work, copy this address into your browser:<br><a href="${escapeHtml(layout.action.url)}" style="color:#1d4ed8;word-break:break-all">${escapeHtml(layout.action.url)}</a></p>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${escapeHtml(layout.title)}</title>
</head>
<body style="margin:0;padding:0;background:#f5f7fa;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif">
<main style="max-width:560px;margin:0 auto;padding:32px 24px">
<h1 style="margin:0 0 24px;font-size:22px;color:#102a43">${escapeHtml(layout.title)}</h1>
<p style="margin:0 0 16px;font-size:16px;line-height:1.5;color:#1f2933">${escapeHtml(greeting(ctx))}</p>
${paragraphs}
${action}
<hr style="border:none;border-top:1px solid #d9e2ec;margin:32px 0 16px">
<p style="margin:0;font-size:13px;line-height:1.5;color:#52606d">${escapeHtml(layout.footer)}</p>
</main>
</body>
</html>
`;
}

function renderText(ctx: MailContext, layout: Layout): string {
  const lines = [greeting(ctx), '', ...layout.paragraphs.flatMap((p) => [p, ''])];
  if (layout.action) lines.push(`${layout.action.label}: ${layout.action.url}`, '');
  lines.push('--', layout.footer, '');
  return lines.join('\n');
}

function render(ctx: MailContext, subject: string, layout: Layout): RenderedMail {
  return { subject: `${subject} — ${ctx.appName}`, text: renderText(ctx, layout), html: renderHtml(ctx, layout) };
}

const ignoreIfNotYou = 'If you did not ask for this, you can ignore this email.';

/** Verification link for a new account (and for resends). `url` carries the token. */
export function verifyEmailMail(ctx: MailContext, url: string, ttlHours: number): RenderedMail {
  return render(ctx, 'Confirm your email address', {
    title: 'Confirm your email address',
    paragraphs: [
      `Thanks for signing up to ${ctx.appName}. Please confirm that this email address is yours.`,
      `The link works once and expires in ${ttlHours} hours.`,
    ],
    action: { label: 'Confirm my email', url },
    footer: ignoreIfNotYou,
  });
}

/** Sent to an existing account's owner when someone tries to register with their email. */
export function registrationAttemptMail(ctx: MailContext, loginUrl: string, resetUrl: string): RenderedMail {
  return render(ctx, 'Someone tried to sign up with your email', {
    title: 'You already have an account',
    paragraphs: [
      `Someone (perhaps you) tried to create a new ${ctx.appName} account with this email address, which already has an account. No new account was created.`,
      `If you forgot your password you can choose a new one at ${resetUrl}.`,
    ],
    action: { label: 'Log in', url: loginUrl },
    footer: 'If this was not you, no action is needed: your account is unchanged.',
  });
}

/** Password reset link. `url` carries the single-use token. */
export function resetPasswordMail(ctx: MailContext, url: string, ttlMinutes: number): RenderedMail {
  return render(ctx, 'Reset your password', {
    title: 'Reset your password',
    paragraphs: [
      `We received a request to reset the password of your ${ctx.appName} account.`,
      `The link works once and expires in ${ttlMinutes} minutes. Resetting signs you out everywhere.`,
    ],
    action: { label: 'Choose a new password', url },
    footer: ignoreIfNotYou,
  });
}

/** Confirmation that the password changed. */
export function passwordChangedMail(ctx: MailContext, resetUrl: string, when: string): RenderedMail {
  return render(ctx, 'Your password was changed', {
    title: 'Your password was changed',
    paragraphs: [
      `The password of your ${ctx.appName} account was changed at ${when} (UTC). Your other sessions were signed out.`,
      `If you did not do this, reset your password now at ${resetUrl} and contact the administrator.`,
    ],
    footer: 'This is a security notice about your account.',
  });
}

/** Confirmation that the account was deactivated. */
export function accountDeactivatedMail(ctx: MailContext, when: string): RenderedMail {
  return render(ctx, 'Your account was deactivated', {
    title: 'Your account was deactivated',
    paragraphs: [
      `Your ${ctx.appName} account was deactivated at ${when} (UTC) and every session was signed out.`,
      'If you did not do this, contact the administrator right away.',
    ],
    footer: 'This is a security notice about your account.',
  });
}

/** Notice that an administrator banned the account (`until` is an ISO time, or null for indefinitely). */
export function accountBannedMail(ctx: MailContext, until: string | null, reason: string): RenderedMail {
  return render(ctx, 'Your account was suspended', {
    title: 'Your account was suspended',
    paragraphs: [
      until
        ? `Your ${ctx.appName} account is suspended until ${until} (UTC). You were signed out everywhere and your API keys were revoked.`
        : `Your ${ctx.appName} account is suspended until further notice. You were signed out everywhere and your API keys were revoked.`,
      reason ? `Reason given: ${reason}` : 'No reason was given.',
      'If you think this is a mistake, reply to this email or contact the administrator.',
    ],
    footer: 'This is a notice about your account.',
  });
}

/** Notice that the ban was lifted. */
export function accountUnbannedMail(ctx: MailContext): RenderedMail {
  return render(ctx, 'Your account is active again', {
    title: 'Your account is active again',
    paragraphs: [
      `The suspension of your ${ctx.appName} account was lifted. You can sign in again.`,
      'API keys revoked during the suspension stay revoked; create new ones if you need them.',
    ],
    action: { label: 'Sign in', url: `${ctx.publicUrl}/` },
    footer: 'This is a notice about your account.',
  });
}
