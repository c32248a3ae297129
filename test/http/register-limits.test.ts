/**
 * Registration cannot be used to send mail to any address at the general request rate: its own
 * per-IP limit (a visible 429, counted alike for new and existing emails) and per-address limit
 * (silent: the answer never changes, the emails stop), and a user-chosen name never reaches an
 * address that has not been confirmed. Mail is read from the real SMTP sink.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, makeUser, STRONG_PASSWORD, type TestContext, tokenFromLatestMail, uniqueEmail } from '../helpers/harness.js';
import { expectProblem, mailsTo, nextIp, waitForMail } from '../helpers/http-assertions.js';

const REGISTER = '/api/v1/auth/register';
const PHISHING_NAME = 'Urgent: call +1 555 0100 at evil.example';

describe.each(dialects)('registration limits and mail (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: { RATE_LIMIT_REGISTER_PER_IP_PER_HOUR: '3' } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const register = (email: string, remoteAddress: string, name?: string) =>
    ctx.request({ method: 'POST', url: REGISTER, payload: { email, password: STRONG_PASSWORD, ...(name ? { name } : {}) }, remoteAddress });

  it('limits registrations per IP with 429 and Retry-After, the same for new and existing emails', async () => {
    const existing = await makeUser(ctx);
    const ip = nextIp();
    const answers = [await register(uniqueEmail('r'), ip), await register(existing.email, ip), await register(uniqueEmail('r'), ip)];
    for (const res of answers) {
      expect(res.statusCode).toBe(202);
      expect(res.body).toBe(answers[0]!.body);
    }
    for (const email of [uniqueEmail('r'), existing.email]) {
      const refused = await register(email, ip);
      expectProblem(refused, 429, 'rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    }
    // Nothing was created or sent for the refused new address.
    const late = uniqueEmail('late');
    expectProblem(await register(late, ip), 429, 'rate_limited');
    expect(await mailsTo(ctx, late)).toEqual([]);
    // The OpenAPI document lists the 429.
    expect((await ctx.request({ url: '/openapi.json' })).json().paths['/api/v1/auth/register'].post.responses['429']).toBeDefined();
    // Another IP is not affected.
    expect((await register(late, nextIp())).statusCode).toBe(202);
    await waitForMail(ctx, late, /Confirm your email/);
  });

  it('sends at most 3 registration emails an hour to one address, answering 202 every time', async () => {
    const email = uniqueEmail('flood');
    for (let i = 0; i < 6; i++) {
      const res = await register(email, nextIp());
      expect(res.statusCode).toBe(202);
    }
    await ctx.flushMail();
    await ctx.smtp.waitFor((m) => m.to === email && m.subject.includes('Someone tried'), 10_000);
    const received = await mailsTo(ctx, email);
    // One verification link, then notices of the attempts, then silence.
    expect(received.map((m) => m.subject.replace(/ — .*$/, ''))).toEqual([
      'Confirm your email address',
      'Someone tried to sign up with your email',
      'Someone tried to sign up with your email',
    ]);
  });

  it('keeps the name a registrant chose out of mail to the unconfirmed address, and uses it once confirmed', async () => {
    const email = uniqueEmail('named');
    expect((await register(email, nextIp(), PHISHING_NAME)).statusCode).toBe(202);
    const verify = await waitForMail(ctx, email, /Confirm your email/);
    expect(`${verify.subject}\n${verify.text}\n${JSON.stringify(verify)}`).not.toContain('evil.example');

    // A second registration of the still unconfirmed address: the notice carries no name either.
    expect((await register(email, nextIp(), 'Someone Else')).statusCode).toBe(202);
    const attempt = await waitForMail(ctx, email, /Someone tried/);
    expect(JSON.stringify(attempt)).not.toContain('evil.example');

    const token = await tokenFromLatestMail(ctx, email, '/verify-email');
    expect((await ctx.request({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } })).statusCode).toBe(204);
    const welcome = await waitForMail(ctx, email, /Welcome/);
    expect(welcome.text).toContain(PHISHING_NAME);
  });
});
