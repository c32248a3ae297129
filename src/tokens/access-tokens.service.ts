/**
 * Access tokens (JWT, RFC 7519) signed with Ed25519 (EdDSA, RFC 8037), and the JWKS
 * (RFC 7517) that publishes their public keys.
 *
 * Claims: `iss` and `aud` = PUBLIC_URL, `sub` = user id, `sid` = session id, `iat`, `exp`,
 * `jti`; header `kid` names the signing key. A token is accepted only if its signature and
 * times are valid AND its session is still active: revoking the session (logout, password change,
 * deactivation) kills its access tokens on the very next request. Verified tokens are cached by
 * their SHA-256 so the signature is checked once per token, not once per request.
 */
import { hash } from 'node:crypto';
import type { importJWK, JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Clock } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import type { Executor } from '../db/executor.js';
import { inTransaction } from '../db/transaction.js';
import { insertSigningKey, listLiveSigningKeys, retireSigningKeysExcept } from './signing-keys.repo.js';

const ALGORITHM = 'EdDSA';
const VERIFIED_CACHE_MAX = 50_000;
/** How often an instance re-reads the signing keys (to sign with a key rotated elsewhere). */
const RELOAD_INTERVAL_MS = 60_000;
/** Minimum gap between reloads triggered by tokens with an unknown `kid`. */
const UNKNOWN_KID_RELOAD_MS = 5_000;

let joseModule: Promise<typeof import('jose')> | undefined;
/** jose, loaded at the first key operation: commands that never touch a token skip loading it. */
function loadJose(): Promise<typeof import('jose')> {
  return (joseModule ??= import('jose'));
}

/** The claims Gatehouse reads from a verified access token. */
export interface AccessTokenClaims {
  /** User id. */
  sub: string;
  /** Session id. */
  sid: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

/** A JSON Web Key Set as served at `/.well-known/jwks.json`. */
export interface Jwks {
  keys: JWK[];
}

/** A key as jose imports it. */
type Key = Awaited<ReturnType<typeof importJWK>>;

interface LoadedKey {
  kid: string;
  /** False once retired: verifies, never signs. */
  active: boolean;
  privateKey: Key;
  publicKey: Key;
  publicJwk: JWK;
}

/** Options for {@link AccessTokenService}. */
export interface AccessTokenServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  /** Issuer and audience (PUBLIC_URL). */
  issuer: string;
  /** Token lifetime in seconds. */
  ttlSeconds: number;
}

export class AccessTokenService {
  private keys: LoadedKey[] = [];
  private loadedAt = 0;
  private readonly verified = new Map<string, AccessTokenClaims>();

  constructor(private readonly options: AccessTokenServiceOptions) {}

  /**
   * How long a retired key keeps verifying, in seconds: one token lifetime plus one reload
   * interval, because other instances may go on signing with it until their next reload.
   */
  get retiredKeyRetentionSeconds(): number {
    return this.options.ttlSeconds + RELOAD_INTERVAL_MS / 1000;
  }

  /** Token lifetime in seconds (the `expires_in` of token responses). */
  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  /**
   * Loads the signing keys, generating and persisting an Ed25519 key pair on first start.
   * Must be called before signing or verifying.
   */
  async init(): Promise<{ generated: boolean }> {
    await this.load();
    if (this.keys.some((k) => k.active)) return { generated: false };
    await this.insertNewKey(this.options.db);
    await this.load();
    return { generated: true };
  }

  /**
   * Key rotation: a new key pair signs from now on; the previous keys stop signing but stay in
   * the JWKS and keep verifying until every access token they signed has expired (one access
   * token lifetime). Other instances pick the new key up within {@link RELOAD_INTERVAL_MS}, or at
   * once when they meet a token signed with it.
   * @returns the new key id and the ids of the keys retired.
   */
  async rotate(): Promise<{ kid: string; retired: string[] }> {
    const result = await inTransaction(this.options.db, async (tx) => {
      const kid = await this.insertNewKey(tx.db);
      const retired = await retireSigningKeysExcept(tx.db, kid, this.options.clock.now().toISOString());
      return { kid, retired };
    });
    await this.load();
    return result;
  }

  private async insertNewKey(db: Executor): Promise<string> {
    const { exportJWK, generateKeyPair } = await loadJose();
    const { publicKey, privateKey } = await generateKeyPair(ALGORITHM, { crv: 'Ed25519', extractable: true });
    const kid = newId();
    await insertSigningKey(db, {
      kid,
      algorithm: ALGORITHM,
      public_jwk: JSON.stringify(await exportJWK(publicKey)),
      private_jwk: JSON.stringify(await exportJWK(privateKey)),
      created_at: this.options.clock.now().toISOString(),
      retired_at: null,
    });
    return kid;
  }

  /** (Re)reads the keys that still matter from the database. */
  private async load(): Promise<void> {
    const cutoff = new Date(this.options.clock.now().getTime() - this.retiredKeyRetentionSeconds * 1000).toISOString();
    const rows = await listLiveSigningKeys(this.options.db, cutoff);
    const { importJWK } = await loadJose();
    this.keys = await Promise.all(
      rows.map(async (row) => {
        const publicJwk = JSON.parse(row.public_jwk) as JWK;
        return {
          kid: row.kid,
          active: row.retired_at === null,
          publicJwk: { ...publicJwk, kid: row.kid, alg: ALGORITHM, use: 'sig' },
          publicKey: await importJWK(publicJwk, ALGORITHM),
          privateKey: await importJWK(JSON.parse(row.private_jwk) as JWK, ALGORITHM),
        };
      }),
    );
    this.loadedAt = performance.now();
  }

  /** Reloads keys when the last load is older than `maxAgeMs` (rotation by another process). */
  private async refreshIfOlderThan(maxAgeMs: number): Promise<void> {
    if (performance.now() - this.loadedAt < maxAgeMs) return;
    this.loadedAt = performance.now();
    await this.load();
  }

  /** The public keys, for `/.well-known/jwks.json`. */
  jwks(): Jwks {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /**
   * {@link jwks}, re-reading the keys first when they were loaded more than
   * {@link RELOAD_INTERVAL_MS} ago: an instance that neither signs nor meets new tokens still
   * publishes a key rotated elsewhere (and drops expired ones) within that interval.
   */
  async currentJwks(): Promise<Jwks> {
    await this.refreshIfOlderThan(RELOAD_INTERVAL_MS);
    return this.jwks();
  }

  /** Signs an access token for a user's session with the newest active key. @returns the compact JWS. */
  async issue(userId: string, sessionId: string): Promise<string> {
    await this.refreshIfOlderThan(RELOAD_INTERVAL_MS);
    const key = this.keys.find((k) => k.active);
    if (!key) throw new Error('AccessTokenService.init() was not called');
    const { SignJWT } = await loadJose();
    const nowSeconds = Math.floor(this.options.clock.now().getTime() / 1000);
    return new SignJWT({ sid: sessionId })
      .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.issuer)
      .setSubject(userId)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + this.options.ttlSeconds)
      .setJti(newId())
      .sign(key.privateKey);
  }

  /**
   * Verifies signature, issuer, audience and expiry. Does NOT check the session: the caller must.
   * @returns the claims, or `null` for any invalid, malformed, foreign or expired token.
   */
  async verify(token: string): Promise<AccessTokenClaims | null> {
    if (token.length > 4096) return null;
    const nowSeconds = Math.floor(this.options.clock.now().getTime() / 1000);
    // The SHA-256 of the token keys the cache (the token itself is not kept). One-shot
    // `crypto.hash` costs about half of `createHash().update().digest()` for a ~450-byte JWT.
    const cacheKey = hash('sha256', token, 'base64url');
    const cached = this.verified.get(cacheKey);
    if (cached) {
      if (cached.exp > nowSeconds) return cached;
      this.verified.delete(cacheKey);
      return null;
    }
    const { jwtVerify, errors: joseErrors } = await loadJose();
    try {
      const { payload } = await jwtVerify(token, async (header) => this.publicKeyFor(header.kid), {
        issuer: this.options.issuer,
        audience: this.options.issuer,
        algorithms: [ALGORITHM],
        currentDate: this.options.clock.now(),
      });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') {
        return null;
      }
      const claims: AccessTokenClaims = { sub: payload.sub, sid: payload.sid, exp: payload.exp };
      if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.clear();
      this.verified.set(cacheKey, claims);
      return claims;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError || error instanceof SyntaxError) return null;
      throw error;
    }
  }

  /**
   * Signs a short-lived statement Gatehouse hands to a browser and reads back later (the state of
   * a social sign-in flow, in a cookie), with the current signing key. It can never pass for an
   * access token, nor one purpose's statement for another's: its audience is
   * `<PUBLIC_URL>#<purpose>` and its header `typ` is `<purpose>+jwt` (RFC 8725 §3.11).
   * @param purpose `[a-z-]+`, e.g. `oauth-flow`.
   * @param claims JSON claims (no registered names: `iss`, `aud`, `iat`, `exp` are set here).
   * @param ttlSeconds lifetime in seconds.
   * @returns the compact JWS.
   */
  async signStatement(purpose: string, claims: Record<string, unknown>, ttlSeconds: number): Promise<string> {
    await this.refreshIfOlderThan(RELOAD_INTERVAL_MS);
    const key = this.keys.find((k) => k.active);
    if (!key) throw new Error('AccessTokenService.init() was not called');
    const { SignJWT } = await loadJose();
    const nowSeconds = Math.floor(this.options.clock.now().getTime() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: `${purpose}+jwt` })
      .setIssuer(this.options.issuer)
      .setAudience(`${this.options.issuer}#${purpose}`)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + ttlSeconds)
      .sign(key.privateKey);
  }

  /**
   * Verifies a statement made by {@link signStatement} for `purpose` (signature, `typ`, issuer,
   * audience, expiry against the injected clock).
   * @returns its claims, or `null` when it is malformed, foreign, expired or for another purpose.
   */
  async verifyStatement(purpose: string, token: string): Promise<Record<string, unknown> | null> {
    if (token.length > 8192) return null;
    const { jwtVerify, errors: joseErrors } = await loadJose();
    try {
      const { payload } = await jwtVerify(token, async (header) => this.publicKeyFor(header.kid), {
        issuer: this.options.issuer,
        audience: `${this.options.issuer}#${purpose}`,
        typ: `${purpose}+jwt`,
        algorithms: [ALGORITHM],
        currentDate: this.options.clock.now(),
      });
      return payload as Record<string, unknown>;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError || error instanceof SyntaxError) return null;
      throw error;
    }
  }

  private async publicKeyFor(kid: string | undefined): Promise<Key> {
    let key = this.keys.find((k) => k.kid === kid);
    if (!key && kid) {
      // Perhaps another instance rotated keys: look again, but not more than once per few seconds.
      await this.refreshIfOlderThan(UNKNOWN_KID_RELOAD_MS);
      key = this.keys.find((k) => k.kid === kid);
    }
    if (!key) throw new (await loadJose()).errors.JWKSNoMatchingKey();
    return key.publicKey;
  }
}
