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
import { exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Clock } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { hashToken } from '../crypto/tokens.js';
import { insertSigningKey, listLiveSigningKeys } from './signing-keys.repo.js';

const ALGORITHM = 'EdDSA';
const VERIFIED_CACHE_MAX = 50_000;

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
  private readonly verified = new Map<string, AccessTokenClaims>();

  constructor(private readonly options: AccessTokenServiceOptions) {}

  /** Token lifetime in seconds (the `expires_in` of token responses). */
  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  /**
   * Loads the live signing keys, generating and persisting an Ed25519 key pair on first start.
   * Must be called before signing or verifying.
   */
  async init(): Promise<void> {
    let rows = await listLiveSigningKeys(this.options.db);
    if (rows.length === 0) {
      const { publicKey, privateKey } = await generateKeyPair(ALGORITHM, { crv: 'Ed25519', extractable: true });
      const kid = newId();
      await insertSigningKey(this.options.db, {
        kid,
        algorithm: ALGORITHM,
        public_jwk: JSON.stringify(await exportJWK(publicKey)),
        private_jwk: JSON.stringify(await exportJWK(privateKey)),
        created_at: this.options.clock.now().toISOString(),
        retired_at: null,
      });
      rows = await listLiveSigningKeys(this.options.db);
    }
    this.keys = await Promise.all(
      rows.map(async (row) => {
        const publicJwk = JSON.parse(row.public_jwk) as JWK;
        return {
          kid: row.kid,
          publicJwk: { ...publicJwk, kid: row.kid, alg: ALGORITHM, use: 'sig' },
          publicKey: await importJWK(publicJwk, ALGORITHM),
          privateKey: await importJWK(JSON.parse(row.private_jwk) as JWK, ALGORITHM),
        };
      }),
    );
  }

  /** The public keys, for `/.well-known/jwks.json`. */
  jwks(): Jwks {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /** Signs an access token for a user's session. @returns the compact JWS. */
  async issue(userId: string, sessionId: string): Promise<string> {
    const key = this.keys[0];
    if (!key) throw new Error('AccessTokenService.init() was not called');
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
    const cacheKey = hashToken(token);
    const cached = this.verified.get(cacheKey);
    if (cached) {
      if (cached.exp > nowSeconds) return cached;
      this.verified.delete(cacheKey);
      return null;
    }
    try {
      const { payload } = await jwtVerify(token, (header) => this.publicKeyFor(header.kid), {
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

  private publicKeyFor(kid: string | undefined): Key {
    const key = this.keys.find((k) => k.kid === kid);
    if (!key) throw new joseErrors.JWKSNoMatchingKey();
    return key.publicKey;
  }
}
