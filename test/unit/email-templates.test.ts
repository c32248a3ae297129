/**
 * Unit tests for the built-in email templates of the one template module (`src/notify/templates.ts`,
 * rendered by `TemplateRenderer`) and for `escapeHtml` (`src/shared/html-escape.ts`).
 */
import { describe, expect, it } from 'vitest';
import { type RenderedEmail, TemplateRenderer } from '../../src/notify/templates.js';
import { escapeHtml } from '../../src/shared/html-escape.js';

/** What every template receives, whoever sends it. */
interface MailContext {
  appName: string;
  publicUrl: string;
  name: string;
}

const ctx: MailContext = { appName: 'Gatehouse', publicUrl: 'https://auth.example.org', name: 'Ada' };
const renderer = new TemplateRenderer();
const render = (template: string, context: MailContext, data: Record<string, unknown>): RenderedEmail =>
  renderer.renderEmail(template, { ...data, ...context });
const verifyEmailMail = (c: MailContext, url: string, ttlHours: number) => render('verify_email', c, { url, ttl_hours: ttlHours });
const resetPasswordMail = (c: MailContext, url: string, ttlMinutes: number) => render('reset_password', c, { url, ttl_minutes: ttlMinutes });
const verifyUrl = 'https://auth.example.org/verify-email?token=abc_DEF-123&x=1';
const resetUrl = 'https://auth.example.org/reset-password?token=xyz_789&x=1';
const when = '2024-05-01T12:00:00.000Z';

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<script>alert("x") & 'y'</script>`)).toBe(
      '&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;',
    );
  });

  it('escapes & first, so entities are not double-decoded into markup', () => {
    expect(escapeHtml('&lt;b&gt;')).toBe('&amp;lt;b&amp;gt;');
  });

  it('leaves other text, including non-ASCII, unchanged', () => {
    expect(escapeHtml('Zoë — 日本 ✓')).toBe('Zoë — 日本 ✓');
    expect(escapeHtml('')).toBe('');
  });
});

const digest = {
  since: '2024-04-30T08:00:00.000Z',
  until: when,
  new_user_count: 3,
  new_users: [
    { email: 'grace@example.org', name: 'Grace', created_at: '2024-04-30T09:00:00.000Z' },
    { email: 'linus@example.org', name: '', created_at: '2024-04-30T10:00:00.000Z' },
  ],
  failed_logins: 7,
  dead_emails: 0,
  failed_task_runs: 2,
};

const templates: Array<[string, RenderedEmail, string[]]> = [
  ['verify email', verifyEmailMail(ctx, verifyUrl, 24), [verifyUrl]],
  [
    'registration attempt',
    render('registration_attempt', ctx, { login_url: 'https://auth.example.org/', reset_url: 'https://auth.example.org/forgot-password' }),
    ['https://auth.example.org/forgot-password'],
  ],
  ['reset password', resetPasswordMail(ctx, resetUrl, 60), [resetUrl]],
  [
    'password changed',
    render('password_changed', ctx, { reset_url: 'https://auth.example.org/forgot-password', changed_at: when }),
    ['https://auth.example.org/forgot-password', when],
  ],
  ['account deactivated', render('account_deactivated', ctx, { deactivated_at: when }), [when]],
  ['admin digest', render('admin_digest', ctx, digest), ['grace@example.org (Grace)', 'linus@example.org,', when]],
];

describe.each(templates)('%s template', (_name, mail, mustContain) => {
  it('has a subject naming the product, a text part and an HTML part', () => {
    expect(mail.subject).toMatch(/ — Gatehouse$/);
    expect(mail.text.length).toBeGreaterThan(50);
    expect(mail.html).toMatch(/^<!doctype html>/);
    expect(mail.html).toContain('<html lang="en">');
    expect(mail.text).toContain('Hello Ada,');
    expect(mail.html).toContain('Hello Ada,');
  });

  it('carries its link or facts in both parts (HTML-escaped in the HTML part)', () => {
    for (const value of mustContain) {
      expect(mail.text).toContain(value);
      expect(mail.html).toContain(escapeHtml(value));
    }
  });

  it('has no markup in the text part', () => {
    expect(mail.text).not.toMatch(/<[a-z]/i);
  });
});

describe('templates with links', () => {
  it('put the link in an href and as visible text for clients that block buttons', () => {
    const mail = verifyEmailMail(ctx, verifyUrl, 24);
    const escaped = escapeHtml(verifyUrl);
    expect(mail.html.split(`href="${escaped}"`).length - 1).toBe(2);
    expect(mail.html).toContain(`>${escaped}</a>`);
    expect(mail.text).toContain(`Confirm my email: ${verifyUrl}`);
  });

  it('state the lifetime of the link', () => {
    expect(verifyEmailMail(ctx, verifyUrl, 24).text).toContain('24 hours');
    expect(resetPasswordMail(ctx, resetUrl, 60).text).toContain('60 minutes');
  });
});

describe('names in templates', () => {
  it('escape a hostile name in HTML but keep it readable in text', () => {
    const hostile = { ...ctx, name: '<img src=x onerror=alert(1)>' };
    const mail = resetPasswordMail(hostile, resetUrl, 60);
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(mail.text).toContain('Hello <img src=x onerror=alert(1)>,');
  });

  it('greet without a name when there is none', () => {
    const mail = verifyEmailMail({ ...ctx, name: '' }, verifyUrl, 24);
    expect(mail.text.startsWith('Hello,\n')).toBe(true);
    expect(mail.html).toContain('Hello,</p>');
  });
});

describe('admin digest', () => {
  const mail = render('admin_digest', ctx, digest);

  it('states each count once per part, in a table with header cells in HTML', () => {
    expect(mail.subject).toBe('Daily digest: 3 new users, 7 failed logins — Gatehouse');
    for (const line of ['New users: 3', 'Failed logins: 7', 'Undeliverable emails: 0', 'Failed scheduled tasks: 2']) {
      expect(mail.text).toContain(`  ${line}\n`);
    }
    expect(mail.html).toMatch(/<th scope="row"[^>]*>Failed logins<\/th><td[^>]*>7<\/td>/);
    expect(mail.html.match(/<th scope="row"/g)).toHaveLength(4);
  });

  it('says how many new users it does not list', () => {
    expect(mail.text).toContain('  … and 1 more\n');
    expect(mail.html).toContain('<li>… and 1 more</li>');
    const all = render('admin_digest', ctx, { ...digest, new_user_count: 2 });
    expect(all.text).not.toContain('more');
  });

  it('leaves out the list when nobody signed up, and escapes what users typed', () => {
    const none = render('admin_digest', ctx, { ...digest, new_user_count: 0, new_users: [] });
    expect(none.text).not.toContain('New users:\n');
    expect(none.html).not.toContain('<ul');
    const hostile = render('admin_digest', ctx, { ...digest, new_users: [{ email: 'x@example.org', name: '<b>x</b>', created_at: when }] });
    expect(hostile.html).toContain('(&lt;b&gt;x&lt;/b&gt;)');
    expect(hostile.html).not.toContain('<b>x');
  });
});
