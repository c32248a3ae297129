/** Unit tests for `src/mail/templates.ts`: escaping and the parts of every template. */
import { describe, expect, it } from 'vitest';
import {
  accountDeactivatedMail,
  escapeHtml,
  type MailContext,
  passwordChangedMail,
  registrationAttemptMail,
  type RenderedMail,
  resetPasswordMail,
  verifyEmailMail,
} from '../../src/mail/templates.js';

const ctx: MailContext = { appName: 'Gatehouse', publicUrl: 'https://auth.example.org', name: 'Ada' };
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

const templates: Array<[string, RenderedMail, string[]]> = [
  ['verify email', verifyEmailMail(ctx, verifyUrl, 24), [verifyUrl]],
  ['registration attempt', registrationAttemptMail(ctx, 'https://auth.example.org/', 'https://auth.example.org/forgot-password'), ['https://auth.example.org/forgot-password']],
  ['reset password', resetPasswordMail(ctx, resetUrl, 60), [resetUrl]],
  ['password changed', passwordChangedMail(ctx, 'https://auth.example.org/forgot-password', when), ['https://auth.example.org/forgot-password', when]],
  ['account deactivated', accountDeactivatedMail(ctx, when), [when]],
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
