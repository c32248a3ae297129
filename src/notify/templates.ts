/**
 * Notification templates: Eta (https://eta.js.org) templates per template name and channel,
 * built in and overridable by operators from `TEMPLATES_DIR`.
 *
 * Names and files: an email is three templates, `<name>.email.subject`, `<name>.email.text`
 * (plain-text part) and `<name>.email.html`; chat messages are `<name>.mattermost` (Markdown)
 * and `<name>.webhook` (plain text, the payload's `text`). Emails share two layouts,
 * `layout.email.html` and `layout.email.text`, and the partial `partial.email.action.html` (a
 * button plus the bare URL). A file `TEMPLATES_DIR/<template>.eta` replaces the built-in of that
 * name; files are read once, at start-up, and a syntax error stops the start with the file name.
 *
 * Every template receives `it.appName`, `it.publicUrl`, `it.event`, `it.occurred_at`, `it.name`
 * (the recipient's display name, may be empty) and the event's payload fields (see
 * `events.ts`). Whitespace is kept as written (Eta's `autoTrim` is off): end a tag with `-%>` to
 * drop the newline after it. `<%= … %>` escapes for the channel: HTML in `*.email.html` and its
 * layout, Markdown (and @-mentions) in `*.mattermost`, nothing in text parts and subjects.
 *
 * The HTML look is the one Gatehouse always had: a single column with inline styles (what mail
 * clients render reliably), `lang`, a visible URL under every button for clients that block
 * links, and colour contrast above WCAG AA.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Eta } from 'eta';
import { escapeHtml } from '../shared/html-escape.js';
import { EVENT_ROUTES, type EventRoute } from './events.js';

/** A rendered email. */
export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** Data a template renders; the fields listed in the module comment plus the event payload. */
export type TemplateData = Record<string, unknown> & { appName: string; publicUrl: string; name: string };

const P = 'margin:0 0 16px;font-size:16px;line-height:1.5;color:#1f2933';
const GREETING = `<%= it.name ? 'Hello ' + it.name + ',' : 'Hello,' %>`;
const IGNORE_IF_NOT_YOU = 'If you did not ask for this, you can ignore this email.';
const SECURITY_NOTICE = 'This is a security notice about your account.';
const ACCOUNT_NOTICE = 'This is a notice about your account.';
const ADMIN_FOOTER = 'You receive this as an administrator of this server (ADMIN_EMAILS, or notify_admin in your profile).';

const LAYOUTS: Record<string, string> = {
  'layout.email.html': `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title><%= it.title %></title>
</head>
<body style="margin:0;padding:0;background:#f5f7fa;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif">
<main style="max-width:560px;margin:0 auto;padding:32px 24px">
<h1 style="margin:0 0 24px;font-size:22px;color:#102a43"><%= it.title %></h1>
<p style="${P}">${GREETING}</p>
<%~ it.body %>
<hr style="border:none;border-top:1px solid #d9e2ec;margin:32px 0 16px">
<p style="margin:0;font-size:13px;line-height:1.5;color:#52606d"><%= it.footer %></p>
</main>
</body>
</html>
`,
  'layout.email.text': `${GREETING}

<%~ it.body %>--
<%= it.footer %>
`,
  'partial.email.action.html': `<p style="margin:24px 0"><a href="<%= it.url %>" style="display:inline-block;background:#1d4ed8;color:#ffffff;text-decoration:none;font-weight:600;padding:12px 20px;border-radius:6px"><%= it.label %></a></p>
<p style="margin:0 0 16px;font-size:14px;line-height:1.5;color:#3e4c59">If the button does not work, copy this address into your browser:<br><a href="<%= it.url %>" style="color:#1d4ed8;word-break:break-all"><%= it.url %></a></p>`,
};

/** The source of an email (built-in or a module's), from which its three templates are generated. */
export interface EmailSource {
  /** Eta source of the subject, without the ` — <app name>` suffix. */
  subject: string;
  /** JavaScript expression for the heading (and `<title>`). */
  title: string;
  /** Paragraphs: Eta source valid in both parts (no literal `&`, `<` or `>`). */
  paragraphs: string[];
  /** Button: a literal label, a JavaScript expression for the URL, and an optional condition expression. */
  action?: { label: string; url: string; when?: string };
  footer: string;
}

const lit = (text: string): string => JSON.stringify(text);

/**
 * The three templates of an email in Gatehouse's layout (`<name>.email.subject`, `.email.text`,
 * `.email.html`): what feature modules use for their notifications' `templates`.
 */
export function emailTemplates(name: string, source: EmailSource): Record<string, string> {
  const footer = lit(source.footer);
  const guard = (body: string) => (source.action?.when ? `<% if (${source.action.when}) { %>${body}<% } %>` : body);
  const textAction = source.action ? guard(`${source.action.label}: <%= ${source.action.url} %>\n\n`) : '';
  const htmlAction = source.action
    ? guard(`<%~ include('@partial.email.action.html', { label: ${lit(source.action.label)}, url: ${source.action.url} }) %>`)
    : '';
  return {
    [`${name}.email.subject`]: `${source.subject} — <%= it.appName %>`,
    [`${name}.email.text`]:
      `<% layout('@layout.email.text', { footer: ${footer} }) %>` +
      source.paragraphs.map((p) => `${p}\n\n`).join('') +
      textAction,
    [`${name}.email.html`]:
      `<% layout('@layout.email.html', { title: ${source.title}, footer: ${footer} }) %>` +
      source.paragraphs.map((p) => `<p style="${P}">${p}</p>\n`).join('') +
      htmlAction,
  };
}

const BAN_SPAN = `<% if (it.until) { %>until <%= it.until %> (UTC)<% } else { %>indefinitely<% } %>`;

const DIGEST_FOOTER = 'You receive this daily digest because you are an administrator.';
const DIGEST_CELL = 'padding:6px 12px;border-bottom:1px solid #d9e2ec;text-align:left;font-size:15px;color:#1f2933';
/** The digest's counts: label and field, in the order both parts show them. */
const DIGEST_COUNTS: Array<[string, string]> = [
  ['New users', 'new_user_count'],
  ['Failed logins', 'failed_logins'],
  ['Undeliverable emails', 'dead_emails'],
  ['Failed scheduled tasks', 'failed_task_runs'],
];
const DIGEST_MORE = 'it.new_user_count - it.new_users.length';

/**
 * The daily admin digest (the scheduler's `admin-digest` task, sent to every active admin): the
 * counts of the last 24 hours and up to a few new users by name. Data: `since`, `until` (ISO
 * times), `new_user_count`, `new_users` (`[{email, name, created_at}]`, possibly fewer than the
 * count), `failed_logins`, `dead_emails`, `failed_task_runs`. The HTML part is a real table with
 * header cells.
 */
const ADMIN_DIGEST: Record<string, string> = {
  'admin_digest.email.subject': 'Daily digest: <%= it.new_user_count %> new users, <%= it.failed_logins %> failed logins — <%= it.appName %>',
  'admin_digest.email.text':
    `<% layout('@layout.email.text', { footer: ${lit(DIGEST_FOOTER)} }) %>` +
    'Activity on <%= it.appName %> from <%= it.since %> to <%= it.until %> (UTC):\n\n' +
    DIGEST_COUNTS.map(([label, field]) => `  ${label}: <%= it.${field} %>\n`).join('') +
    '\n<% if (it.new_users.length) { %>New users:\n' +
    '<% for (const u of it.new_users) { %>  <%= u.email %><% if (u.name) { %> (<%= u.name %>)<% } %>, <%= u.created_at %>\n<% } %>' +
    `<% if (${DIGEST_MORE} > 0) { %>  … and <%= ${DIGEST_MORE} %> more\n<% } %>\n<% } %>` +
    'Dashboard: <%= it.publicUrl %>/\n\n',
  'admin_digest.email.html':
    `<% layout('@layout.email.html', { title: 'Daily digest', footer: ${lit(DIGEST_FOOTER)} }) %>` +
    `<p style="${P}">Activity on <%= it.appName %> from <%= it.since %> to <%= it.until %> (UTC):</p>\n` +
    '<table style="border-collapse:collapse;width:100%">\n' +
    '<caption style="text-align:left;font-size:13px;color:#52606d;padding-bottom:4px">Last 24 hours</caption>\n' +
    DIGEST_COUNTS.map(
      ([label, field]) =>
        `<tr><th scope="row" style="${DIGEST_CELL};font-weight:400">${label}</th><td style="${DIGEST_CELL};font-weight:600"><%= it.${field} %></td></tr>\n`,
    ).join('') +
    '</table>\n' +
    '<% if (it.new_users.length) { %><h2 style="margin:24px 0 8px;font-size:17px;color:#102a43">New users</h2>\n' +
    '<ul style="margin:0;padding-left:20px;font-size:15px;line-height:1.6;color:#1f2933">\n' +
    '<% for (const u of it.new_users) { %><li><%= u.email %><% if (u.name) { %> (<%= u.name %>)<% } %>, <%= u.created_at %></li>\n<% } %>' +
    `<% if (${DIGEST_MORE} > 0) { %><li>… and <%= ${DIGEST_MORE} %> more</li>\n<% } %></ul>\n<% } %>` +
    '<p style="margin:24px 0 0;font-size:15px"><a href="<%= it.publicUrl %>/" style="color:#1d4ed8"><%= it.publicUrl %>/</a></p>\n',
};

/** Every built-in template, by name (without the `.eta` extension). */
export const BUILT_IN_TEMPLATES: Readonly<Record<string, string>> = {
  ...LAYOUTS,
  ...emailTemplates('verify_email', {
    subject: 'Confirm your email address',
    title: lit('Confirm your email address'),
    paragraphs: [
      'Thanks for signing up to <%= it.appName %>. Please confirm that this email address is yours.',
      'The link works once and expires in <%= it.ttl_hours %> hours.',
    ],
    action: { label: 'Confirm my email', url: 'it.url' },
    footer: IGNORE_IF_NOT_YOU,
  }),
  ...emailTemplates('registration_attempt', {
    subject: 'Someone tried to sign up with your email',
    title: lit('You already have an account'),
    paragraphs: [
      'Someone (perhaps you) tried to create a new <%= it.appName %> account with this email address, which already has an account. No new account was created.',
      'If you forgot your password you can choose a new one at <%= it.reset_url %>.',
    ],
    action: { label: 'Log in', url: 'it.login_url' },
    footer: 'If this was not you, no action is needed: your account is unchanged.',
  }),
  ...emailTemplates('welcome', {
    subject: 'Welcome to <%= it.appName %>',
    title: `'Welcome to ' + it.appName`,
    paragraphs: [
      'Your email address is confirmed and your <%= it.appName %> account is ready.',
      'Sign in any time with this email address and your password.',
    ],
    action: { label: 'Sign in', url: 'it.login_url' },
    footer: 'You receive this email because you created an account.',
  }),
  ...emailTemplates('reset_password', {
    subject: 'Reset your password',
    title: lit('Reset your password'),
    paragraphs: [
      'We received a request to reset the password of your <%= it.appName %> account.',
      'The link works once and expires in <%= it.ttl_minutes %> minutes. Resetting signs you out everywhere.',
    ],
    action: { label: 'Choose a new password', url: 'it.url' },
    footer: IGNORE_IF_NOT_YOU,
  }),
  ...emailTemplates('password_changed', {
    subject: 'Your password was changed',
    title: lit('Your password was changed'),
    paragraphs: [
      'The password of your <%= it.appName %> account was changed at <%= it.changed_at %> (UTC). Your other sessions were signed out.',
      'If you did not do this, reset your password now at <%= it.reset_url %> and contact the administrator.',
    ],
    footer: SECURITY_NOTICE,
  }),
  ...emailTemplates('mfa_changed', {
    subject: 'Your sign-in security settings changed',
    title: lit('Your sign-in security settings changed'),
    paragraphs: [
      '<%= it.change %> on your <%= it.appName %> account at <%= it.at %> (UTC).',
      'If you did not do this, reset your password now at <%= it.reset_url %> and contact the administrator.',
    ],
    footer: SECURITY_NOTICE,
  }),
  ...emailTemplates('api_keys_revoked', {
    subject: 'Your API keys were revoked',
    title: lit('Your API keys were revoked'),
    paragraphs: [
      `Because the password of your <%= it.appName %> account was <% if (it.reason === 'password_reset') { %>reset<% } else { %>changed<% } %>, its <%= it.count %> API key<% if (it.count !== 1) { %>s were<% } else { %> was<% } %> revoked at <%= it.revoked_at %> (UTC). Scripts and workers using <% if (it.count !== 1) { %>them<% } else { %>it<% } %> need a new key.`,
      'If you did not do this, reset your password now at <%= it.reset_url %> and contact the administrator.',
    ],
    footer: SECURITY_NOTICE,
  }),
  ...emailTemplates('confirm_email_change', {
    subject: 'Confirm your new email address',
    title: lit('Confirm your new email address'),
    paragraphs: [
      'You asked to use this address for your <%= it.appName %> account. Please confirm that it is yours; until you do, the account keeps its current address.',
      'The link works once and expires in <%= it.ttl_hours %> hours.',
    ],
    action: { label: 'Confirm my new email', url: 'it.url' },
    footer: IGNORE_IF_NOT_YOU,
  }),
  ...emailTemplates('email_changed', {
    subject: 'Your email address was changed',
    title: lit('Your email address was changed'),
    paragraphs: [
      'The email address of your <%= it.appName %> account was changed to <%= it.new_email %> at <%= it.changed_at %> (UTC). Sign in with the new address from now on; this address no longer belongs to the account.',
      'If you did not do this, reset your password now at <%= it.reset_url %> (with the new address) and contact the administrator right away.',
    ],
    footer: SECURITY_NOTICE,
  }),
  ...emailTemplates('profile_updated', {
    subject: 'Your profile was updated',
    title: lit('Your profile was updated'),
    paragraphs: [
      `The <%= it.fields.join(' and ') %> of your <%= it.appName %> account changed at <%= it.updated_at %> (UTC).`,
      'If you did not do this, reset your password now at <%= it.reset_url %> and contact the administrator.',
    ],
    footer: SECURITY_NOTICE,
  }),
  ...emailTemplates('account_deactivated', {
    subject: 'Your account was deactivated',
    title: lit('Your account was deactivated'),
    paragraphs: [
      'Your <%= it.appName %> account was deactivated at <%= it.deactivated_at %> (UTC) and every session was signed out.',
      'If you did not do this, contact the administrator right away.',
    ],
    footer: SECURITY_NOTICE,
  }),
  ...emailTemplates('account_banned', {
    subject: 'Your account was suspended',
    title: lit('Your account was suspended'),
    paragraphs: [
      '<% if (it.until) { %>Your <%= it.appName %> account is suspended until <%= it.until %> (UTC).<% } else { %>Your <%= it.appName %> account is suspended until further notice.<% } %> You were signed out everywhere and your API keys were revoked.',
      '<% if (it.reason) { %>Reason given: <%= it.reason %><% } else { %>No reason was given.<% } %>',
      'If you think this is a mistake, reply to this email or contact the administrator.',
    ],
    footer: ACCOUNT_NOTICE,
  }),
  ...emailTemplates('account_unbanned', {
    subject: 'Your account is active again',
    title: lit('Your account is active again'),
    paragraphs: [
      'The suspension of your <%= it.appName %> account was lifted. You can sign in again.',
      'API keys revoked during the suspension stay revoked; create new ones if you need them.',
    ],
    action: { label: 'Sign in', url: 'it.login_url' },
    footer: ACCOUNT_NOTICE,
  }),
  ...emailTemplates('new_login', {
    subject: 'New sign-in to your account',
    title: lit('New sign-in to your account'),
    paragraphs: [
      'Your <%= it.appName %> account was signed in to at <%= it.at %> (UTC) from a network or browser it had not used before.',
      `IP address: <%= it.ip || 'unknown' %>. Browser: <%= it.user_agent || 'unknown' %>.`,
      'If this was you, there is nothing to do. If not, reset your password now at <%= it.reset_url %>: resetting signs you out everywhere.',
    ],
    footer: SECURITY_NOTICE,
  }),
  ...emailTemplates('identity_link_requested', {
    subject: 'Link your <%= it.provider %> account',
    title: `'Link your ' + it.provider + ' account'`,
    paragraphs: [
      'Someone (perhaps you) signed in to <%= it.appName %> with a <%= it.provider %> account that uses this email address, and asked to link it to your account.',
      'If it was you, confirm with the button: from then on that <%= it.provider %> account signs you in. The link works once and expires in <%= it.ttl_minutes %> minutes.',
    ],
    action: { label: 'Link my account', url: 'it.url' },
    footer: 'If this was not you, ignore this email: nothing is linked unless you confirm.',
  }),
  ...emailTemplates('identity_linked', {
    subject: '<%= it.provider %> can now sign in to your account',
    title: `it.provider + ' account linked'`,
    paragraphs: [
      'A <%= it.provider %> account was linked to your <%= it.appName %> account at <%= it.linked_at %> (UTC): it can sign you in from now on.',
      'If this was not you, reset your password now at <%= it.reset_url %> and remove the link from your account.',
    ],
    footer: SECURITY_NOTICE,
  }),

  ...emailTemplates('admin_user_registered', {
    subject: 'New user: <%= it.user.email %>',
    title: lit('New user registered'),
    paragraphs: [
      '<%= it.user.email %><% if (it.user.name) { %> (<%= it.user.name %>)<% } %> registered an account on <%= it.appName %>.',
      'User id: <%= it.user.id %>',
    ],
    footer: ADMIN_FOOTER,
  }),
  'admin_user_registered.mattermost':
    ':bust_in_silhouette: New user registered on <%= it.appName %>: **<%= it.user.email %>**<% if (it.user.name) { %> (<%= it.user.name %>)<% } %>',
  'admin_user_registered.webhook': 'New user registered: <%= it.user.email %>',

  ...emailTemplates('admin_user_banned', {
    subject: 'User banned: <%= it.user.email %>',
    title: `it.automatic ? 'User banned automatically' : 'User banned'`,
    paragraphs: [
      `<%= it.user.email %> was <% if (it.automatic) { %>banned automatically for exceeding the API quota<% } else { %>banned by an administrator<% } %>, ${BAN_SPAN}.`,
      '<% if (it.reason) { %>Reason: <%= it.reason %><% } else { %>No reason was given.<% } %>',
    ],
    footer: ADMIN_FOOTER,
  }),
  'admin_user_banned.mattermost': `:no_entry: **<%= it.user.email %>** was <% if (it.automatic) { %>banned automatically (API quota)<% } else { %>banned<% } %> ${BAN_SPAN}<% if (it.reason) { %>: <%= it.reason %><% } %>`,
  'admin_user_banned.webhook': `User banned ${BAN_SPAN}: <%= it.user.email %><% if (it.automatic) { %> (automatic, API quota)<% } %>`,

  ...emailTemplates('admin_login_locked_out', {
    subject: `Repeated failed sign-ins<% if (it.email) { %> for <%= it.email %><% } %>`,
    title: lit('Repeated failed sign-ins'),
    paragraphs: [
      `<% if (it.scope === 'ip') { %>The network <%= it.ip %> is blocked from signing in for the rest of the day after <%= it.failures %> failed sign-ins.<% } else { %>Sign-ins to <%= it.email %> from <%= it.ip || 'an unknown address' %> are locked for <%= it.lockout_seconds %> seconds after <%= it.failures %> failed attempts in a row.<% } %>`,
      'The account itself stays usable from other networks and through a password reset. The audit log lists the attempts.',
    ],
    footer: ADMIN_FOOTER,
  }),
  'admin_login_locked_out.mattermost': `:lock: Repeated failed sign-ins on <%= it.appName %>: <% if (it.scope === 'ip') { %>network **<%= it.ip %>** blocked for the day after <%= it.failures %> failures<% } else { %>**<%= it.email %>** from <%= it.ip || 'an unknown address' %> locked for <%= it.lockout_seconds %> s after <%= it.failures %> failures<% } %>`,
  'admin_login_locked_out.webhook': `Repeated failed sign-ins: <% if (it.scope === 'ip') { %>network <%= it.ip %> blocked for the day<% } else { %><%= it.email %> from <%= it.ip || 'an unknown address' %> locked for <%= it.lockout_seconds %> s<% } %>`,

  ...emailTemplates('admin_job_failed', {
    subject: 'Job failed: <%= it.queue %> <%= it.job_id %>',
    title: lit('A job failed'),
    paragraphs: [
      'Job <%= it.job_id %> in queue <%= it.queue %> failed after <%= it.attempts %> attempts.',
      'Last error: <%= it.error %>',
    ],
    action: { label: 'Open the job', url: 'it.url', when: 'it.url' },
    footer: ADMIN_FOOTER,
  }),
  'admin_job_failed.mattermost':
    ':x: Job `<%= it.job_id %>` in queue **<%= it.queue %>** failed after <%= it.attempts %> attempts: <%= it.error %><% if (it.url) { %> ([open](<%~ it.url %>))<% } %>',
  'admin_job_failed.webhook': 'Job <%= it.job_id %> in queue <%= it.queue %> failed after <%= it.attempts %> attempts: <%= it.error %>',

  ...emailTemplates('admin_campaign_completed', {
    subject: 'Campaign completed: <%= it.campaign_name %>',
    title: lit('A campaign completed'),
    paragraphs: [
      'Campaign <%= it.campaign_name %> (<%= it.campaign_id %>) completed after <%= it.runs_completed %> runs.',
      '<% if (it.best_result) { %>Best result: <%= it.best_result %><% } else { %>No best result was recorded.<% } %>',
    ],
    action: { label: 'Open the campaign', url: 'it.url', when: 'it.url' },
    footer: ADMIN_FOOTER,
  }),
  'admin_campaign_completed.mattermost':
    ':checkered_flag: Campaign **<%= it.campaign_name %>** completed after <%= it.runs_completed %> runs<% if (it.best_result) { %>; best result: <%= it.best_result %><% } %><% if (it.url) { %> ([open](<%~ it.url %>))<% } %>',
  'admin_campaign_completed.webhook':
    'Campaign <%= it.campaign_name %> completed after <%= it.runs_completed %> runs<% if (it.best_result) { %>; best result: <%= it.best_result %><% } %>',

  ...emailTemplates('test_message', {
    subject: 'Test notification',
    title: lit('Test notification'),
    paragraphs: [
      'This is a test message from <%= it.appName %> at <%= it.publicUrl %>, requested by <%= it.requested_by %>. If you can read it, the email channel works.',
    ],
    footer: ADMIN_FOOTER,
  }),
  'test_message.mattermost':
    ':white_check_mark: Test notification from **<%= it.appName %>** (<%= it.publicUrl %>), requested by <%= it.requested_by %>. The Mattermost channel works.',
  'test_message.webhook': 'Test notification from <%= it.appName %> (<%= it.publicUrl %>), requested by <%= it.requested_by %>.',

  ...ADMIN_DIGEST,
};

/**
 * Escapes text for Mattermost/Slack Markdown: Markdown punctuation gets a backslash, and an `@`
 * that could start a mention (not one inside an email address) gets a zero-width space after
 * it, so a user-chosen name such as `@all` cannot ping a channel.
 */
export function escapeMarkdown(value: unknown): string {
  return String(value ?? '')
    .replace(/[\\`*_~[\]()<>#|]/g, '\\$&')
    .replace(/(^|[^\w.+-])@/g, '$1@\u200b');
}

function escapeText(value: unknown): string {
  return String(value ?? '');
}

/** Which engine renders a template: by its name's channel and part. */
function flavourOf(name: string): 'html' | 'markdown' | 'text' {
  if (name.endsWith('.html')) return 'html';
  if (name.endsWith('.mattermost')) return 'markdown';
  return 'text';
}

/** Raised when an operator's template file does not compile; names the file. */
export class TemplateError extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`Template ${file} is invalid: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'TemplateError';
  }
}

/** Options for {@link TemplateRenderer}. */
export interface TemplateRendererOptions {
  /** Directory of override files `<template>.eta` (`TEMPLATES_DIR`); null = built-ins only. */
  templatesDir?: string | null;
  /** Feature modules' templates by file name (`<template>.email.subject`, …); operators override them like built-ins. */
  moduleTemplates?: Readonly<Record<string, string>>;
}

/** Renders the notification templates (built-ins, with the operator's overrides). */
export class TemplateRenderer {
  /** Override files that were loaded, as absolute paths. */
  readonly overridden: string[] = [];
  /** `.eta` files in the directory that name no template (ignored; worth a warning). */
  readonly unknownFiles: string[] = [];
  private readonly engines: Record<'html' | 'markdown' | 'text', Eta>;

  /**
   * Compiles every template. @throws TemplateError when an override does not compile, or when
   * `templatesDir` is given but is not a directory.
   */
  constructor(options: TemplateRendererOptions = {}) {
    const base = { autoTrim: false as const, cache: true, useWith: false, varName: 'it' };
    this.engines = {
      html: new Eta({ ...base, autoEscape: true, escapeFunction: (v: unknown) => escapeHtml(String(v ?? '')) }),
      markdown: new Eta({ ...base, autoEscape: true, escapeFunction: escapeMarkdown }),
      text: new Eta({ ...base, autoEscape: true, escapeFunction: escapeText }),
    };
    const sources: Record<string, string> = { ...BUILT_IN_TEMPLATES, ...options.moduleTemplates };
    const dir = options.templatesDir;
    if (dir) {
      if (!existsSync(dir)) throw new TemplateError(dir, new Error('TEMPLATES_DIR does not exist'));
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.eta')).sort()) {
        const name = file.slice(0, -'.eta'.length);
        const full = path.join(dir, file);
        if (!(name in sources)) {
          this.unknownFiles.push(full);
          continue;
        }
        sources[name] = readFileSync(full, 'utf8');
        this.overridden.push(full);
      }
    }
    for (const [name, source] of Object.entries(sources)) {
      try {
        this.engines[flavourOf(name)].loadTemplate(`@${name}`, source);
      } catch (error) {
        throw new TemplateError(this.overridden.find((f) => path.basename(f) === `${name}.eta`) ?? name, error);
      }
    }
  }

  /** The email of `template`: subject (one line), plain-text part and HTML part. */
  renderEmail(template: string, data: TemplateData): RenderedEmail {
    const subject = this.engines.text
      .render(`@${template}.email.subject`, data)
      .replace(/\s+/g, ' ')
      .trim();
    return {
      subject,
      text: this.engines.text.render(`@${template}.email.text`, data),
      html: this.engines.html.render(`@${template}.email.html`, data),
    };
  }

  /** The chat text of `template` for Mattermost (Markdown) or the webhook (plain text). */
  renderMessage(template: string, channel: 'mattermost' | 'webhook', data: TemplateData): string {
    const engine = channel === 'mattermost' ? this.engines.markdown : this.engines.text;
    return engine.render(`@${template}.${channel}`, data).trim();
  }
}

/** True when `name` is a built-in template (a module may not replace one; operators may, with TEMPLATES_DIR). */
export function isBuiltInTemplate(name: string): boolean {
  return Object.hasOwn(BUILT_IN_TEMPLATES, name);
}

/**
 * Template names the event routes need that `templates` (default: the built-ins) lack: a `user`
 * route needs the three email parts, an `admins` route also `.mattermost` and `.webhook`. Empty
 * when the event map and templates agree.
 */
export function missingTemplates(
  routes: Readonly<Record<string, readonly EventRoute[]>> = EVENT_ROUTES,
  templates: Readonly<Record<string, string>> = BUILT_IN_TEMPLATES,
): string[] {
  const missing: string[] = [];
  for (const eventRoutes of Object.values(routes)) {
    for (const route of eventRoutes) {
      const parts =
        route.audience === 'user'
          ? ['email.subject', 'email.text', 'email.html']
          : ['email.subject', 'email.text', 'email.html', 'mattermost', 'webhook'];
      for (const part of parts) if (!Object.hasOwn(templates, `${route.template}.${part}`)) missing.push(`${route.template}.${part}`);
    }
  }
  return missing;
}
