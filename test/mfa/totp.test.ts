/**
 * Two-factor authentication (TOTP, RFC 6238) over the HTTP API on both dialects, with the
 * injected clock: enrolment (secret, otpauth URI, QR SVG, ten hashed single-use recovery codes,
 * the secret encrypted at rest and never shown again), the `401 mfa_required` step of cookie and
 * token sign-ins completed at `POST /auth/mfa` (window ±1 step, replay refused, single-use and
 * expiring tokens, attempts burnt, the login throttle), turning it off with password + code, a
 * group's `require_mfa`, and the administrators' reset through the real CLI binary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSecret, totpCode } from '../../src/mfa/totp.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type Fixture, loginCookie, makeUser, PUBLIC_URL, type TestContext } from '../helpers/harness.js';
import { cleanEnv, runCli } from '../helpers/server-process.js';

const KEY = 'a'.repeat(64);

describe.each(dialects)('TOTP two-factor authentication (%s)', (dialect) => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, {
      env: { MFA_ENCRYPTION_KEY: KEY, MFA_MAX_ATTEMPTS: '3', LOGIN_MAX_CONSECUTIVE_FAILURES: '4', MFA_ISSUER: 'Gatehouse Test' },
    });
    // Start on a step boundary (plus a second) so "the current step" is unambiguous.
    const seconds = ctx.clock.now().getTime() / 1000;
    ctx.clock.advance(30 - (seconds % 30) + 1);
  }, 60_000);
  afterAll(async () => ctx?.close());

  const nextStep = () => ctx.clock.advance(30);
  const code = (secret: string, offsetSteps = 0) => totpCode(secret, new Date(ctx.clock.now().getTime() + offsetSteps * 30_000));

  async function login(who: Fixture) {
    return ctx.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: who.email, password: who.password } });
  }

  /** Enrols TOTP for `who` (signed in with `cookie`); returns the secret and the recovery codes. */
  async function enrol(cookie: string): Promise<{ secret: string; recovery: string[] }> {
    const begin = await ctx.request({ method: 'POST', url: '/api/v1/users/me/mfa/totp', headers: { cookie } });
    expect(begin.statusCode, begin.body).toBe(200);
    const { secret } = begin.json<{ secret: string }>();
    const confirm = await ctx.request({ method: 'POST', url: '/api/v1/users/me/mfa/totp/confirm', headers: { cookie }, payload: { code: code(secret) } });
    expect(confirm.statusCode, confirm.body).toBe(200);
    // Two steps on: the enrolment's step is history, the previous step is a fresh one.
    nextStep();
    nextStep();
    return { secret, recovery: confirm.json<{ recovery_codes: string[] }>().recovery_codes };
  }

  it('enrols: secret, otpauth URI and SVG QR code once; confirmation returns ten recovery codes stored hashed; the secret is encrypted at rest', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const begin = await ctx.request({ method: 'POST', url: '/api/v1/users/me/mfa/totp', headers: { cookie } });
    expect(begin.statusCode).toBe(200);
    expect(begin.headers['cache-control']).toBe('no-store');
    const body = begin.json<{ secret: string; otpauth_uri: string; qr_svg: string }>();
    expect(body.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(decodeURIComponent(body.otpauth_uri.split('?')[0] ?? '')).toBe(`otpauth://totp/Gatehouse Test:${user.email}`);
    const uri = new URL(body.otpauth_uri);
    expect(uri.searchParams.get('secret')).toBe(body.secret);
    expect(uri.searchParams.get('issuer')).toBe('Gatehouse Test');
    expect(body.qr_svg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);

    // Not on yet: a wrong code is refused, sign-in is unchanged.
    const wrong = await ctx.request({ method: 'POST', url: '/api/v1/users/me/mfa/totp/confirm', headers: { cookie }, payload: { code: code(body.secret, 3) } });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().code).toBe('invalid_mfa_code');
    expect((await login(user)).statusCode).toBe(200);

    const confirm = await ctx.request({ method: 'POST', url: '/api/v1/users/me/mfa/totp/confirm', headers: { cookie }, payload: { code: code(body.secret) } });
    expect(confirm.statusCode).toBe(200);
    const recovery = confirm.json<{ recovery_codes: string[] }>().recovery_codes;
    expect(recovery).toHaveLength(10);
    expect(new Set(recovery).size).toBe(10);
    for (const c of recovery) expect(c).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);

    const db = ctx.gatehouse.database.db;
    const stored = await db.selectFrom('totp_credential').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    expect(stored.secret.startsWith('v1:')).toBe(true);
    expect(stored.secret).not.toContain(body.secret);
    expect(openSecret(stored.secret, Buffer.from(KEY, 'hex'))).toBe(body.secret);
    const hashes = await db.selectFrom('recovery_code').select('code_hash').where('user_id', '=', user.id).execute();
    expect(hashes).toHaveLength(10);
    for (const { code_hash } of hashes) {
      expect(code_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(recovery.some((c) => code_hash.includes(c.replaceAll('-', '')))).toBe(false);
    }

    // The secret is never shown again: status has no secret, a new enrolment is refused.
    const status = await ctx.request({ url: '/api/v1/users/me/mfa', headers: { cookie } });
    expect(status.json()).toMatchObject({ totp_enabled: true, recovery_codes_remaining: 10, passkeys: 0, required: false });
    expect(status.body).not.toContain(body.secret);
    const again = await ctx.request({ method: 'POST', url: '/api/v1/users/me/mfa/totp', headers: { cookie } });
    expect(again.statusCode).toBe(409);

    const audit = await db.selectFrom('audit_log').select('action').where('target_id', '=', user.id).execute();
    expect(audit.map((a) => a.action)).toContain('mfa.totp_enable');
    await ctx.flushMail();
    await ctx.smtp.waitFor((m) => m.to === user.email.toLowerCase() && m.text.includes('Two-factor authentication was turned on'));
  });

  it('cookie sign-in answers 401 mfa_required without a cookie; the code (window ±1 step) completes it once; replays and other steps are refused', async () => {
    const user = await makeUser(ctx);
    const { secret } = await enrol(await loginCookie(ctx, user));

    const first = await login(user);
    expect(first.statusCode).toBe(401);
    expect(first.headers['set-cookie']).toBeUndefined();
    const problem = first.json<{ code: string; mfa_token: string; mfa_expires_in: number; mfa_methods: string[] }>();
    expect(problem).toMatchObject({ code: 'mfa_required', mfa_expires_in: 300, mfa_methods: ['totp', 'recovery_code'] });
    const token = problem.mfa_token;

    const complete = (payload: Record<string, string>) => ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: token, ...payload } });
    // Two steps away: refused (and counted).
    const far = await complete({ code: code(secret, 2) });
    expect(far.statusCode).toBe(400);
    expect(far.json().code).toBe('invalid_mfa_code');
    // One step back (clock drift): accepted.
    const ok = await complete({ code: code(secret, -1) });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().user.email).toBe(user.email.toLowerCase());
    const cookie = ok.cookies.find((c) => c.name === ctx.config.auth.cookieName);
    expect(cookie?.httpOnly).toBe(true);
    const me = await ctx.request({ url: '/api/v1/users/me', headers: { cookie: `${cookie?.name}=${cookie?.value}` } });
    expect(me.statusCode).toBe(200);

    // The token is single-use.
    expect((await complete({ code: code(secret) })).json().code).toBe('invalid_token');

    // Replay: the step just used (and earlier steps) are refused in a new sign-in; the next step works.
    const second = (await login(user)).json<{ mfa_token: string }>().mfa_token;
    const replay = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: second, code: code(secret, -1) } });
    expect(replay.statusCode).toBe(400);
    expect(replay.json().detail).toMatch(/already used/);
    const current = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: second, code: code(secret) } });
    expect(current.statusCode).toBe(200);
    const sameAgain = (await login(user)).json<{ mfa_token: string }>().mfa_token;
    const replayed = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: sameAgain, code: code(secret) } });
    expect(replayed.statusCode).toBe(400);
    nextStep();
  });

  it('token sign-in answers mfa_required; recovery codes complete it once each; tokens expire and burn after MFA_MAX_ATTEMPTS', async () => {
    const user = await makeUser(ctx);
    const { secret, recovery } = await enrol(await loginCookie(ctx, user));
    const grant = () => ctx.request({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'password', username: user.email, password: user.password } });

    const first = await grant();
    expect(first.statusCode).toBe(401);
    expect(first.json()).toMatchObject({ error: 'mfa_required', code: 'mfa_required' });
    const done = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: first.json().mfa_token, recovery_code: recovery[0]?.toUpperCase() } });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.headers['set-cookie']).toBeUndefined();
    const tokens = done.json<{ access_token: string; refresh_token: string; token_type: string }>();
    expect(tokens.token_type).toBe('Bearer');
    const me = await ctx.request({ url: '/api/v1/users/me', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.statusCode).toBe(200);
    const refreshed = await ctx.request({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token } });
    expect(refreshed.statusCode).toBe(200);

    // The same recovery code does not work twice.
    const reuse = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: (await grant()).json().mfa_token, recovery_code: recovery[0] } });
    expect(reuse.json().code).toBe('invalid_mfa_code');
    const status = await ctx.request({ url: '/api/v1/users/me', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(status.statusCode).toBe(200);
    expect((await ctx.request({ url: '/api/v1/users/me/mfa', headers: { authorization: `Bearer ${tokens.access_token}` } })).json().recovery_codes_remaining).toBe(9);

    // Expiry: MFA_CHALLENGE_TTL_SECONDS (300) after the challenge.
    const stale = (await grant()).json().mfa_token as string;
    ctx.clock.advance(301);
    const late = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: stale, code: code(secret) } });
    expect(late.json().code).toBe('invalid_token');

    // MFA_MAX_ATTEMPTS = 3 wrong codes burn the token, even for a right code afterwards.
    const burnt = (await grant()).json().mfa_token as string;
    for (let i = 0; i < 3; i++) {
      const bad = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: burnt, code: '000000' === code(secret) ? '111111' : '000000' } });
      expect(bad.json().code).toBe('invalid_mfa_code');
    }
    const afterBurn = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: burnt, code: code(secret) } });
    expect(afterBurn.json().code).toBe('invalid_token');

    // The login throttle (LOGIN_MAX_CONSECUTIVE_FAILURES = 4) counts code failures too (the reused
    // recovery code and the three above): the fifth locks this user's codes from this IP.
    const another = (await grant()).json().mfa_token as string;
    const bad = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: another, recovery_code: 'nope-nope-nope-nope' } });
    expect(bad.json().code).toBe('invalid_mfa_code');
    const locked = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: (await grant()).json().mfa_token, code: code(secret) } });
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['retry-after']).toBeDefined();
  });

  it('turns off with password and code (not with a wrong password); sign-in no longer asks', async () => {
    const user = await makeUser(ctx);
    const { secret } = await enrol(await loginCookie(ctx, user));
    const token = (await login(user)).json().mfa_token as string;
    const signedIn = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: token, code: code(secret) } });
    const cookie = signedIn.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    nextStep();

    const disable = (payload: Record<string, string>) => ctx.request({ method: 'POST', url: '/api/v1/users/me/mfa/totp/disable', headers: { cookie }, payload });
    expect((await disable({ password: 'not-the-password-at-all', code: code(secret) })).json().code).toBe('reauthentication_required');
    expect((await disable({ password: user.password, code: code(secret, 3) })).json().code).toBe('invalid_mfa_code');
    expect((await disable({ password: user.password })).statusCode).toBe(400);
    const off = await disable({ password: user.password, code: code(secret) });
    expect(off.statusCode, off.body).toBe(204);
    expect((await login(user)).statusCode).toBe(200);
    const db = ctx.gatehouse.database.db;
    expect(await db.selectFrom('recovery_code').select('id').where('user_id', '=', user.id).execute()).toHaveLength(0);
    const audit = await db.selectFrom('audit_log').select('action').where('target_id', '=', user.id).execute();
    expect(audit.map((a) => a.action)).toContain('mfa.totp_disable');
  });

  it('a group with require_mfa lets members sign in only to enrol; once enrolled everything works and sign-in asks for the code', async () => {
    const user = await makeUser(ctx);
    const group = await ctx.gatehouse.access.createGroup({ name: `mfa-required-${dialect}`, require_mfa: true }, { actorId: null, ip: null, userAgent: 'test' });
    expect(group.require_mfa).toBe(true);
    await ctx.gatehouse.access.setMembership(group.name, user.id, true, { actorId: null, ip: null, userAgent: 'test' });

    const cookie = await loginCookie(ctx, user);
    const blocked = await ctx.request({ url: '/api/v1/jobs', headers: { cookie } });
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().code).toBe('mfa_enrollment_required');
    expect((await ctx.request({ url: '/api/v1/api-keys', headers: { cookie } })).json().code).toBe('mfa_enrollment_required');
    expect((await ctx.request({ url: '/api/v1/users/me', headers: { cookie } })).statusCode).toBe(200);
    expect((await ctx.request({ url: '/api/v1/users/me/mfa', headers: { cookie } })).json()).toMatchObject({ required: true, totp_enabled: false });

    const { secret } = await enrol(cookie);
    expect((await ctx.request({ url: '/api/v1/jobs', headers: { cookie } })).statusCode).toBe(200);
    // Enrolled: sign-in asks for the code like for everyone with TOTP on.
    const grant = await ctx.request({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'password', username: user.email, password: user.password } });
    expect(grant.json().code).toBe('mfa_required');
    const done = await ctx.request({ method: 'POST', url: '/api/v1/auth/mfa', payload: { mfa_token: grant.json().mfa_token, code: code(secret) } });
    expect(done.statusCode).toBe(200);
    nextStep();

    // The group's flag through the API and its removal.
    const admin = await makeUser(ctx, { role: 'admin' });
    const adminCookie = await loginCookie(ctx, admin);
    const lifted = await ctx.request({ method: 'PATCH', url: `/api/v1/groups/${group.name}`, headers: { cookie: adminCookie }, payload: { require_mfa: false } });
    expect(lifted.statusCode, lifted.body).toBe(200);
    expect(lifted.json().require_mfa).toBe(false);
  });

  it('gatehouse users reset-mfa removes TOTP (audit-logged, the user told by email); sign-in no longer asks', async () => {
    const user = await makeUser(ctx);
    await enrol(await loginCookie(ctx, user));
    expect((await login(user)).statusCode).toBe(401);

    const env = cleanEnv({ DATA_DIR: ctx.database.dataDir, DATABASE_URL: ctx.database.url, PUBLIC_URL, MFA_ENCRYPTION_KEY: KEY });
    const result = await runCli(['users', 'reset-mfa', user.email, '--json'], { env, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ user: user.email.toLowerCase(), totp_removed: true, passkeys_removed: 0 });
    expect(result.stderr).toContain('Database:');

    // The CLI changed the row in another process; this server sees it (cache invalidation across processes).
    await expect.poll(async () => (await login(user)).statusCode, { timeout: 10_000 }).toBe(200);
    const audit = await ctx.gatehouse.database.db.selectFrom('audit_log').selectAll().where('target_id', '=', user.id).where('action', '=', 'mfa.reset').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]?.user_agent).toBe('gatehouse-cli');
    await ctx.flushMail();
    await ctx.smtp.waitFor((m) => m.to === user.email.toLowerCase() && m.text.includes('An administrator reset your two-factor authentication'));

    const missing = await runCli(['users', 'reset-mfa', 'nobody@example.com'], { env, timeoutMs: 60_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).not.toMatch(/^\s+at\s/m);

    const created = await runCli(['groups', 'create', `cli-mfa-${dialect}`, '--require-mfa', '--json'], { env, timeoutMs: 60_000 });
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: `cli-mfa-${dialect}`, require_mfa: true });
    const lifted = await runCli(['groups', 'update', `cli-mfa-${dialect}`, '--no-require-mfa', '--json'], { env, timeoutMs: 60_000 });
    expect(JSON.parse(lifted.stdout)).toMatchObject({ require_mfa: false });
  }, 120_000);

  it.each([
    ['POST /auth/mfa without a token', '/api/v1/auth/mfa', { code: '123456' }, 400, 'validation_failed'],
    ['POST /auth/mfa with a malformed token', '/api/v1/auth/mfa', { mfa_token: '!!', code: '123456' }, 400, 'invalid_token'],
    ['POST /auth/mfa with an unknown token', '/api/v1/auth/mfa', { mfa_token: 'x'.repeat(43), code: '123456' }, 400, 'invalid_token'],
    ['POST /auth/mfa with a number for a code', '/api/v1/auth/mfa', { mfa_token: 'x'.repeat(43), code: 123456 }, 400, 'validation_failed'],
    ['POST /auth/passkey without a response', '/api/v1/auth/passkey', {}, 400, 'validation_failed'],
    ['POST /auth/passkey with unreadable clientDataJSON', '/api/v1/auth/passkey', { response: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: '%%%' } } }, 400, 'passkey_verification_failed'],
    [
      'POST /auth/passkey with an unknown challenge',
      '/api/v1/auth/passkey',
      { response: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: 'abc' })).toString('base64url') } } },
      400,
      'passkey_verification_failed',
    ],
    ['POST /auth/passkey with a bad flow', '/api/v1/auth/passkey', { flow: 'both', response: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'e30' } } }, 400, 'validation_failed'],
  ])('bad input: %s → %i %s', async (_name, url, payload, status, problem) => {
    const res = await ctx.request({ method: 'POST', url, payload });
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().code).toBe(problem);
  });

  it('bad input on the signed-in endpoints: 4xx problem documents, never 500', async () => {
    const user = await makeUser(ctx);
    const cookie = await loginCookie(ctx, user);
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', '/api/v1/users/me/mfa/totp/confirm', { code: '123456' }, 409],
      ['POST', '/api/v1/users/me/mfa/totp/confirm', {}, 400],
      ['POST', '/api/v1/users/me/mfa/totp/disable', { password: user.password, code: '123456' }, 409],
      ['POST', '/api/v1/users/me/mfa/recovery-codes', { code: '123456' }, 409],
      ['POST', '/api/v1/users/me/passkeys', { response: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'e30' } } }, 400],
      ['POST', '/api/v1/users/me/passkeys', { name: 'x' }, 400],
      ['PATCH', '/api/v1/users/me/passkeys/not-a-uuid', { name: 'x' }, 400],
      ['PATCH', '/api/v1/users/me/passkeys/01900000-0000-7000-8000-000000000000', { name: 'x' }, 404],
      ['PATCH', '/api/v1/users/me/passkeys/01900000-0000-7000-8000-000000000000', { name: '   ' }, 400],
      ['DELETE', '/api/v1/users/me/passkeys/01900000-0000-7000-8000-000000000000', undefined, 404],
    ];
    for (const [method, url, payload, status] of cases) {
      const res = await ctx.request({ method: method as 'POST', url, headers: { cookie }, ...(payload === undefined ? {} : { payload: payload as object }) });
      expect(res.statusCode, `${method} ${url} ${JSON.stringify(payload)}: ${res.body}`).toBe(status);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    expect((await ctx.request({ method: 'POST', url: '/api/v1/users/me/passkeys/options' })).statusCode).toBe(401);
  });
});
