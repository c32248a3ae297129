/**
 * Signing key rotation, in process: after `accessTokens.rotate()` the JWKS publishes the new key
 * and the retired one, new access tokens carry the new `kid` and verify (with jose) against
 * `/.well-known/jwks.json`, tokens signed before the rotation keep working until they expire, and
 * the retired key leaves the JWKS once the access-token lifetime has passed. A second instance on
 * the same database accepts tokens signed with a key rotated by the first one and switches to it
 * on its periodic reload.
 *
 * Time: the ManualClock moves the wall clock (token expiry, key retirement). The key reloads are
 * throttled on the monotonic clock (`performance.now()`: 5 s after an unknown `kid`, every 60 s
 * for signing); rather than sleeping, {@link monotonicSkew} moves that clock forward.
 */
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, generateKeyPair, type JWK, jwtVerify, SignJWT } from 'jose';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createGatehouse, type Gatehouse } from '../../src/container.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, type Fixture, makeUser, passwordGrant, PUBLIC_URL, type TestContext } from '../helpers/harness.js';

interface Instance {
  gatehouse: Gatehouse;
  app: FastifyInstance;
}

/**
 * Moves `performance.now()` forward by hand (it keeps running in real time too). Restored by
 * `vi.restoreAllMocks()` in `afterEach`.
 */
function monotonicSkew(): { advance(ms: number): void } {
  const realNow = performance.now.bind(performance);
  let offset = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => realNow() + offset);
  return {
    advance(ms) {
      offset += ms;
    },
  };
}

async function jwksOf(app: FastifyInstance): Promise<JWK[]> {
  const res = await app.inject({ url: '/.well-known/jwks.json' });
  expect(res.statusCode).toBe(200);
  return (res.json() as { keys: JWK[] }).keys;
}

async function kidsOf(app: FastifyInstance): Promise<string[]> {
  return (await jwksOf(app)).map((k) => k.kid ?? '').sort();
}

function kidOf(token: string): string | undefined {
  return decodeProtectedHeader(token).kid;
}

/** `GET /api/v1/users/me` with the token; the status code. */
async function meStatus(app: FastifyInstance, token: string): Promise<number> {
  return (await app.inject({ url: '/api/v1/users/me', headers: { authorization: `Bearer ${token}` } })).statusCode;
}

/** Password grant on any instance; the access token. */
async function grantOn(app: FastifyInstance, who: Fixture): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { origin: PUBLIC_URL },
    payload: { grant_type: 'password', username: who.email, password: who.password },
  });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { access_token: string }).access_token;
}

describe.each(dialects)('signing key rotation (%s)', (dialect) => {
  let ctx: TestContext;
  let others: Instance[] = [];

  /** Another Gatehouse on the same database and clock, as a second server would be. */
  async function secondInstance(): Promise<Instance> {
    const gatehouse = await createGatehouse(ctx.config, { clock: ctx.clock, logger: pino({ level: 'silent' }) });
    const instance = { gatehouse, app: await buildApp(gatehouse) };
    others.push(instance);
    return instance;
  }

  /** Verifies `token` with jose against the JWKS that `app` serves, at the test clock's time. */
  async function verifyWithJwks(app: FastifyInstance, token: string) {
    const keys = createLocalJWKSet({ keys: await jwksOf(app) });
    return jwtVerify(token, keys, {
      issuer: PUBLIC_URL,
      audience: PUBLIC_URL,
      algorithms: ['EdDSA'],
      currentDate: ctx.clock.now(),
    });
  }

  beforeEach(async () => {
    ctx = await createTestContext(dialect);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const other of others) {
      await other.app.close();
      await other.gatehouse.close();
    }
    others = [];
    await ctx?.close();
  });

  it('publishes the new and the retired key; new tokens carry the new kid and verify against the JWKS', async () => {
    const user = await makeUser(ctx);
    const [first] = await jwksOf(ctx.app);
    expect(await jwksOf(ctx.app)).toHaveLength(1);
    const oldKid = first?.kid;
    expect(oldKid).toEqual(expect.any(String));
    const before = (await passwordGrant(ctx, user)).access_token;
    expect(kidOf(before)).toBe(oldKid);

    ctx.clock.advance(1);
    const { kid, retired } = await ctx.gatehouse.accessTokens.rotate();
    expect(kid).not.toBe(oldKid);
    expect(retired).toEqual([oldKid]);

    const jwks = await jwksOf(ctx.app);
    expect(jwks.map((k) => k.kid).sort()).toEqual([kid, oldKid].sort());
    for (const key of jwks) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', x: expect.any(String) });
      expect(key).not.toHaveProperty('d'); // never the private half
    }

    const after = (await passwordGrant(ctx, user)).access_token;
    expect(decodeProtectedHeader(after)).toMatchObject({ alg: 'EdDSA', kid, typ: 'JWT' });
    const verified = await verifyWithJwks(ctx.app, after);
    expect(verified.protectedHeader.kid).toBe(kid);
    expect(verified.payload).toMatchObject({ sub: user.id, iss: PUBLIC_URL, aud: PUBLIC_URL });
    // The token signed before the rotation verifies against the same JWKS, with the old key.
    expect((await verifyWithJwks(ctx.app, before)).protectedHeader.kid).toBe(oldKid);

    expect(await meStatus(ctx.app, after)).toBe(200);
    expect(await meStatus(ctx.app, before)).toBe(200);

    // A second rotation retires only the key that was active.
    ctx.clock.advance(1);
    const third = await ctx.gatehouse.accessTokens.rotate();
    expect(third.retired).toEqual([kid]);
    expect(await kidsOf(ctx.app)).toEqual([oldKid, kid, third.kid].sort());
    expect(kidOf((await passwordGrant(ctx, user)).access_token)).toBe(third.kid);
  });

  it('tokens signed before a rotation work until they expire; then the retired key leaves the JWKS', async () => {
    const monotonic = monotonicSkew();
    const ttl = ctx.config.auth.accessTokenTtlSeconds;
    expect(ttl).toBeGreaterThan(20);
    const user = await makeUser(ctx);
    const used = (await passwordGrant(ctx, user)).access_token; // verified (and cached) before the rotation
    const unseen = (await passwordGrant(ctx, user)).access_token; // first presented after the rotation
    expect(await meStatus(ctx.app, used)).toBe(200);
    const oldKid = kidOf(used);
    expect(kidOf(unseen)).toBe(oldKid);

    const { kid } = await ctx.gatehouse.accessTokens.rotate();
    ctx.clock.advance(ttl - 10);
    expect(await meStatus(ctx.app, used)).toBe(200);
    expect(await meStatus(ctx.app, unseen)).toBe(200);
    expect((await verifyWithJwks(ctx.app, unseen)).protectedHeader.kid).toBe(oldKid);
    // A fresh instance loads the retired key too: it is still needed.
    const early = await secondInstance();
    expect(await kidsOf(early.app)).toEqual([kid, oldKid].sort());
    expect(await meStatus(early.app, unseen)).toBe(200);

    ctx.clock.advance(11); // ttl + 1 after the rotation: every token of the old key has expired
    expect(await meStatus(ctx.app, used)).toBe(401);
    expect(await meStatus(ctx.app, unseen)).toBe(401);
    await expect(verifyWithJwks(ctx.app, unseen)).rejects.toThrow(/exp/);

    // The retired key is kept one reload interval (60 s) longer, for tokens other instances signed
    // before they noticed the rotation; after that, an instance that loads the keys no longer has it…
    ctx.clock.advance(60);
    const late = await secondInstance();
    expect(await kidsOf(late.app)).toEqual([kid]);
    expect(await meStatus(late.app, unseen)).toBe(401);
    // …and the first instance drops it at its next load (here: the next rotation).
    const next = await ctx.gatehouse.accessTokens.rotate();
    expect(next.retired).toEqual([kid]);
    expect(await kidsOf(ctx.app)).toEqual([kid, next.kid].sort());
    // A token of the current key still works everywhere.
    const fresh = (await passwordGrant(ctx, user)).access_token;
    expect(kidOf(fresh)).toBe(next.kid);
    expect(await meStatus(ctx.app, fresh)).toBe(200);
    monotonic.advance(5_001);
    expect(await meStatus(late.app, fresh)).toBe(200); // unknown kid on `late` → reload
  });

  it('another instance accepts a token signed with a key rotated elsewhere (unknown kid → reload), never a foreign key', async () => {
    const monotonic = monotonicSkew();
    const user = await makeUser(ctx);
    const b = await secondInstance();
    const oldKid = (await kidsOf(b.app))[0];
    expect(await kidsOf(b.app)).toEqual([oldKid]);

    const { kid } = await ctx.gatehouse.accessTokens.rotate();
    const token = (await passwordGrant(ctx, user)).access_token;
    expect(kidOf(token)).toBe(kid);

    // B loaded its keys less than 5 s ago (monotonic time); unknown kids reload at most that often.
    monotonic.advance(5_001);
    expect(await meStatus(b.app, token)).toBe(200);
    expect(await kidsOf(b.app)).toEqual([kid, oldKid].sort());
    expect(await meStatus(b.app, token)).toBe(200);

    // A token signed by a key Gatehouse never had, claiming a kid it does not know: 401, not 500.
    const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await new SignJWT({ sid: '00000000-0000-7000-8000-000000000000' })
      .setProtectedHeader({ alg: 'EdDSA', kid: '01900000-0000-7000-8000-000000000000', typ: 'JWT' })
      .setIssuer(PUBLIC_URL)
      .setAudience(PUBLIC_URL)
      .setSubject(user.id)
      .setIssuedAt(Math.floor(ctx.clock.now().getTime() / 1000))
      .setExpirationTime(Math.floor(ctx.clock.now().getTime() / 1000) + 60)
      .sign(foreign.privateKey);
    monotonic.advance(5_001);
    expect(await meStatus(b.app, forged)).toBe(401);
    expect(await meStatus(ctx.app, forged)).toBe(401);
    // The same forged signature under a kid Gatehouse does know is refused as well.
    const [, payload, signature] = forged.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid, typ: 'JWT' })).toString('base64url');
    expect(await meStatus(b.app, `${header}.${payload}.${signature}`)).toBe(401);
  });

  it('another instance signs with the new key after its periodic reload; a fresh instance at once', async () => {
    const monotonic = monotonicSkew();
    const user = await makeUser(ctx);
    const b = await secondInstance();
    const [oldKid] = await kidsOf(b.app);

    const { kid } = await ctx.gatehouse.accessTokens.rotate();
    // Until B reloads, it keeps signing with the key it knows; the first instance still accepts those.
    const fromB = await grantOn(b.app, user);
    expect(kidOf(fromB)).toBe(oldKid);
    expect(await meStatus(ctx.app, fromB)).toBe(200);
    expect((await verifyWithJwks(ctx.app, fromB)).protectedHeader.kid).toBe(oldKid);

    // An instance started after the rotation signs with the new key from the start.
    const c = await secondInstance();
    const fromC = await grantOn(c.app, user);
    expect(kidOf(fromC)).toBe(kid);
    expect(await kidsOf(c.app)).toEqual([kid, oldKid].sort());
    expect(await meStatus(ctx.app, fromC)).toBe(200);

    // A minute later (monotonic time) B has reloaded and signs with the new key too.
    monotonic.advance(60_001);
    const fromBLater = await grantOn(b.app, user);
    expect(kidOf(fromBLater)).toBe(kid);
    expect(await kidsOf(b.app)).toEqual([kid, oldKid].sort());
    expect(await meStatus(ctx.app, fromBLater)).toBe(200);
    expect(await meStatus(b.app, fromBLater)).toBe(200);
    expect(await meStatus(c.app, fromB)).toBe(200);
  });

  it('another instance publishes the new key in its JWKS after its periodic reload, even if it signs and verifies nothing', async () => {
    const monotonic = monotonicSkew();
    const b = await secondInstance();
    const [oldKid] = await kidsOf(b.app);
    const { kid } = await ctx.gatehouse.accessTokens.rotate();
    // External verifiers may fetch the JWKS from B while A issues the tokens.
    monotonic.advance(60_001);
    expect(await kidsOf(b.app)).toEqual([kid, oldKid].sort());
    // And once the retired key's tokens have expired, B stops publishing it.
    ctx.clock.advance(ctx.gatehouse.accessTokens.retiredKeyRetentionSeconds + 1);
    monotonic.advance(60_001);
    expect(await kidsOf(b.app)).toEqual([kid]);
  });
});
