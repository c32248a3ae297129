/**
 * Authentication: password login (browser sessions), the OAuth 2.0 token endpoint's password
 * and refresh_token grants (RFC 6749 §4.3, §6), logout, and resolving a request's credentials
 * to a principal.
 *
 * Refresh tokens rotate on every use; presenting a rotated token again is treated as theft and
 * revokes the whole family — the API session and thereby every access token issued for it
 * (RFC 6819 §5.2.2.3; OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AccessService, EffectiveAccess } from '../access/access.service.js';
import { type ApiKeyService, looksLikeApiKey } from '../access/api-keys.service.js';
import { intersectGrants } from '../access/permissions.js';
import type { UserDirectory } from '../accounts/user-directory.service.js';
import type { ActorContext, AuditLog } from '../audit/audit.service.js';
import type { ApiKeyRow, Database, SessionRow, UserRow } from '../db/schema.js';
import { inTransaction, type Tx } from '../db/transaction.js';
import type { PasswordHasher } from '../crypto/passwords.js';
import { generateToken, hashToken, looksLikeToken } from '../crypto/tokens.js';
import type { AuthChanges } from '../sessions/auth-changes.js';
import type { ClientInfo, SessionService, SessionWithUser } from '../sessions/sessions.service.js';
import type { Clock } from '../shared/clock.js';
import { AppError, isAppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import type { AccessTokenService } from '../tokens/access-tokens.service.js';
import { findRefreshTokenByHash, insertRefreshToken, markRefreshTokenUsed } from './refresh-tokens.repo.js';

/**
 * A browser session that signed in at most this long ago (seconds) counts as a fresh proof of
 * identity for sensitive actions (creating an API key); older sessions, access tokens and API
 * keys must send the password again.
 */
export const FRESH_SIGN_IN_SECONDS = 300;

/** Who is making a request, and through which credential. */
export interface Principal {
  user: UserRow;
  /** The session behind a cookie or access token; null for API keys. */
  session: SessionRow | null;
  /** The API key used, when `method` is `api_key`. */
  apiKey: ApiKeyRow | null;
  /** True when the session's expiry was just extended (sliding expiry). */
  renewed: boolean;
  /** `cookie` for browser sessions, `bearer` for access tokens, `api_key` for `gh_…` keys. */
  method: 'cookie' | 'bearer' | 'api_key';
  /** The user's role and group grants and policy. */
  access: EffectiveAccess;
  /** What this request may do: the user's grants, narrowed to the key's scopes for API keys. */
  permissions: ReadonlySet<string>;
}

/**
 * Brute-force protection around password checks (implemented in `limits/`): consulted before
 * each verification and told the outcome.
 */
export interface LoginGuard {
  /** @throws AppError `rate_limited` while this email/IP pair or this IP is locked out. */
  assertAllowed(email: string, ip: string | null): Promise<void>;
  recordFailure(email: string, ip: string | null): Promise<void>;
  recordSuccess(email: string, ip: string | null): Promise<void>;
}

/** Told about each proven password before the sign-in is recorded (new-device notices); must not throw. */
export interface LoginObserver {
  passwordVerified(user: UserRow, client: ClientInfo): Promise<void>;
}

/** A guard that allows everything (tests and embedding apps that throttle elsewhere). */
export const NO_LOGIN_GUARD: LoginGuard = {
  assertAllowed: async () => undefined,
  recordFailure: async () => undefined,
  recordSuccess: async () => undefined,
};

/** How the first factor of a sign-in was proven: a password, or an external provider's sign-in. */
export type PrimaryMethod = { method: 'password' } | { method: 'identity'; provider: string };

/**
 * A first factor proven but not yet recorded (see `AuthService.provePassword`): what the
 * sign-in's transaction writes beside the session.
 */
interface ProvenSignIn {
  user: UserRow;
  /** The email as typed (recorded on the attempt). */
  email: string;
  client: ClientInfo;
  via: PrimaryMethod;
  /** A new argon2id hash of the password when the stored one has outdated parameters, else null. */
  rehash: string | null;
}

/** A browser sign-in's result: the user, the new session and its cookie secret. */
export interface BrowserSignIn {
  user: UserRow;
  session: SessionRow;
  /** The session cookie's secret (set it as the session cookie; stored only as a hash). */
  token: string;
}

/** An RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  /** Access token lifetime in seconds. */
  expires_in: number;
  refresh_token: string;
}

/** What a sign-in issues: `browser` a cookie session, `api` an API session with tokens. */
export type SignInFlow = 'browser' | 'api';

/** How a sign-in was started: what it should issue (`browser`: cookie session; `api`: tokens) and how the first factor was proven. */
export interface SignInAttempt<F extends SignInFlow = SignInFlow> {
  flow: F;
  /** `password`, `passkey` or `oidc:<provider>`. */
  method: string;
}

/** A second factor the sign-in waits for: an `mfa` token to complete at `POST /api/v1/auth/mfa`. */
export interface SecondFactorChallenge {
  mfa_token: string;
  /** Seconds the token stays valid. */
  expires_in: number;
  /** How it may be completed: `totp`, `recovery_code`. */
  methods: string[];
}

/** Decides whether a sign-in needs a second factor (implemented by `mfa/`). */
export interface SecondFactorGate {
  /** A challenge when `user` must prove a second factor before `attempt` completes; null to sign in at once. */
  challenge(user: UserRow, attempt: SignInAttempt): Promise<SecondFactorChallenge | null>;
}

/** What {@link AuthService.completeSignIn} issued. */
export type SignInResult =
  | { flow: 'browser'; user: UserRow; session: SessionRow; /** The cookie secret. */ token: string }
  | { flow: 'api'; user: UserRow; tokens: TokenResponse };

/** Options for {@link AuthService}. */
export interface AuthServiceOptions {
  db: Kysely<Database>;
  /** The `user` rows (the accounts module's service). */
  users: UserDirectory;
  clock: Clock;
  logger: Logger;
  hasher: PasswordHasher;
  sessions: SessionService;
  accessTokens: AccessTokenService;
  changes: AuthChanges;
  access: AccessService;
  apiKeys: ApiKeyService;
  audit: AuditLog;
  loginGuard: LoginGuard;
  /** Optional: told about successful sign-ins before they are recorded. */
  loginObserver?: LoginObserver;
  /** Optional: asked before a sign-in completes whether it needs a second factor (`mfa/`). */
  secondFactor?: SecondFactorGate;
  requireEmailVerification: boolean;
}

export class AuthService {
  /**
   * An API key's permissions (its scopes intersected with its user's grants), per cached key row
   * and effective-access object: both are replaced, never mutated, when they change, so an entry
   * made for an older row or access is simply not found again.
   */
  private readonly keyGrants = new WeakMap<ApiKeyRow, { access: EffectiveAccess; permissions: ReadonlySet<string> }>();

  constructor(private readonly options: AuthServiceOptions) {}

  private keyPermissions(key: ApiKeyRow, access: EffectiveAccess): ReadonlySet<string> {
    const known = this.keyGrants.get(key);
    if (known?.access === access) return known.permissions;
    const permissions = intersectGrants(access.permissions, JSON.parse(key.scopes) as string[]);
    this.keyGrants.set(key, { access, permissions });
    return permissions;
  }

  /**
   * Checks an email and password, behind the brute-force guard. Unknown emails cost a dummy
   * argon2 verify so timing does not reveal which accounts exist; hashes made with old
   * parameters are upgraded on success. Every attempt is recorded (login attempts + audit log).
   *
   * @throws AppError `rate_limited` (429) while locked out; `invalid_credentials` (401);
   *   `account_deactivated` (401), `user_banned` (403), `email_not_verified` (403) — these
   *   three only after the password was proven.
   */
  async verifyPassword(email: string, password: string, client: ClientInfo): Promise<UserRow> {
    const proof = await this.provePassword(email, password, client);
    return inTransaction(this.options.db, (tx) => this.recordProof(tx, proof));
  }

  /**
   * The first half of {@link verifyPassword}: the guard, the check, the refusals (failed and
   * refused attempts are recorded at once, in their own transaction) and the new-device
   * observer; the successful attempt, its audit entry and the rehash (computed here, off the
   * event loop) are left for {@link recordProof}, so that a sign-in can write them in the same
   * transaction as its session.
   * @throws as {@link verifyPassword}.
   */
  private async provePassword(email: string, password: string, client: ClientInfo): Promise<ProvenSignIn> {
    const guard = this.options.loginGuard;
    await guard.assertAllowed(email, client.ip);
    const user = await this.options.users.findByEmail(email);
    const passwordOk = user
      ? await this.options.hasher.verify(user.password_hash, password)
      : (await this.options.hasher.dummyVerify(password), false);
    if (!user || !passwordOk) {
      await guard.recordFailure(email, client.ip);
      await this.recordAttempt(email, user ?? null, client, 'invalid_credentials');
      throw new AppError('invalid_credentials');
    }
    await guard.recordSuccess(email, client.ip);
    const refusal = this.signInRefusal(user);
    if (refusal) {
      await this.recordAttempt(email, user, client, refusal.code);
      throw refusal;
    }
    await this.options.loginObserver?.passwordVerified(user, client);
    const rehash = user.password_hash && this.options.hasher.needsRehash(user.password_hash) ? await this.options.hasher.hash(password) : null;
    return { user, email, client, via: { method: 'password' }, rehash };
  }

  /**
   * Writes a proven first factor inside `tx`: the successful login attempt, its `auth.login`
   * audit entry and, for a password with outdated parameters, the new hash.
   * @returns the user row (the updated one after a rehash).
   */
  private async recordProof(tx: Tx, proof: ProvenSignIn): Promise<UserRow> {
    await this.writeAttempt(tx, proof.email, proof.user, proof.client, 'success', proof.via);
    if (!proof.rehash) return proof.user;
    return (await this.options.users.update(proof.user.id, { password_hash: proof.rehash }, tx.db)) ?? proof.user;
  }

  /**
   * Why `user` may not sign in now (deactivated, banned, email not verified), or null.
   * Checked after the first factor is proven, so a refusal reveals nothing to a guesser.
   */
  private signInRefusal(user: UserRow): AppError | null {
    const now = this.options.clock.now();
    return user.status !== 'active'
      ? new AppError('account_deactivated')
      : user.banned_until && Date.parse(user.banned_until) > now.getTime()
        ? new AppError('user_banned', `The account is banned until ${user.banned_until}.`, {
            extra: { banned_until: user.banned_until },
          })
        : this.options.requireEmailVerification && !user.email_verified_at
          ? new AppError('email_not_verified')
          : null;
  }

  /**
   * THE one place where a proven primary authentication becomes a session. Every sign-in method
   * (password, passkey, social login) calls it once its first factor is proven:
   *
   * 1. refuses deactivated, banned and (when required) unverified accounts;
   * 2. unless `options.mfaSatisfied`, asks the second-factor gate: a user with TOTP on gets
   *    `AppError('mfa_required')` (401) carrying `mfa_token`, `mfa_expires_in` (seconds) and
   *    `mfa_methods`; `POST /api/v1/auth/mfa` completes it and calls this again with
   *    `mfaSatisfied: true` and the same `attempt`;
   * 3. issues what the flow asks for: `browser` a cookie session (lifetime from the user's
   *    groups), `api` an API session with a refresh token family and an access token.
   *
   * @param user the user whose first factor was proven.
   * @param attempt `flow` (`browser` | `api`) and `method` (`password`, `passkey`,
   *   `oidc:<provider>`: recorded with the `mfa` challenge).
   * @param client IP and user agent, recorded on the session.
   * @param options `mfaSatisfied`: the first factor already counts as multi-factor (a passkey
   *   with user verification) or the second factor was just verified.
   * @throws AppError `account_deactivated` (401), `user_banned` (403), `email_not_verified`
   *   (403), `mfa_required` (401).
   */
  async completeSignIn<F extends SignInFlow>(
    user: UserRow,
    attempt: SignInAttempt<F>,
    client: ClientInfo,
    options: { mfaSatisfied?: boolean } = {},
  ): Promise<Extract<SignInResult, { flow: F }>> {
    return (await this.signIn(user, attempt, client, options, null)) as Extract<SignInResult, { flow: F }>;
  }

  /**
   * {@link completeSignIn} without the flow-narrowed return type. With `proof` (a first factor
   * proven by {@link provePassword} or an identity sign-in, not yet recorded), the successful
   * attempt, its audit entry and any rehash are written in the same transaction as the session
   * (one commit per sign-in); when a second factor is asked for, they are written first, on
   * their own, as the first factor did succeed.
   */
  private async signIn(
    user: UserRow,
    attempt: SignInAttempt,
    client: ClientInfo,
    options: { mfaSatisfied?: boolean },
    proof: ProvenSignIn | null,
  ): Promise<SignInResult> {
    const refusal = this.signInRefusal(user);
    if (refusal) throw refusal;
    if (!options.mfaSatisfied && this.options.secondFactor) {
      const challenge = await this.options.secondFactor.challenge(user, attempt);
      if (challenge) {
        if (proof) await inTransaction(this.options.db, (tx) => this.recordProof(tx, proof));
        throw new AppError('mfa_required', 'Send a code from your authenticator app (or a recovery code) with this mfa_token to POST /api/v1/auth/mfa.', {
          extra: { mfa_token: challenge.mfa_token, mfa_expires_in: challenge.expires_in, mfa_methods: challenge.methods },
        });
      }
    }
    const access = await this.options.access.effectiveAccess(user);
    if (attempt.flow === 'browser') {
      if (!proof) {
        const { session, token } = await this.options.sessions.create(this.options.db, user.id, 'browser', client, access.sessionTtlSeconds);
        return { flow: 'browser', user, session, token: token as string };
      }
      return inTransaction(this.options.db, async (tx) => {
        const recorded = await this.recordProof(tx, proof);
        const { session, token } = await this.options.sessions.create(tx.db, user.id, 'browser', client, access.sessionTtlSeconds);
        return { flow: 'browser', user: recorded, session, token: token as string };
      });
    }
    const now = this.options.clock.now().toISOString();
    const refreshToken = generateToken();
    const session = await inTransaction(this.options.db, async (tx) => {
      if (proof) await this.recordProof(tx, proof);
      const created = await this.options.sessions.create(tx.db, user.id, 'api', client, access.sessionTtlSeconds);
      await insertRefreshToken(tx.db, {
        id: newId(),
        session_id: created.session.id,
        token_hash: hashToken(refreshToken),
        parent_id: null,
        created_at: now,
        expires_at: created.session.expires_at,
        used_at: null,
      });
      return created.session;
    });
    return { flow: 'api', user, tokens: await this.tokenResponse(user.id, session.id, refreshToken) };
  }

  /**
   * Password login for browsers: creates a cookie session (lifetime from the user's groups).
   * @returns the user, the session and the cookie secret (to be set as the session cookie).
   * @throws AppError `mfa_required` (401) when the user has TOTP on (see {@link completeSignIn}).
   */
  async login(email: string, password: string, client: ClientInfo): Promise<{ user: UserRow; session: SessionRow; token: string }> {
    const proof = await this.provePassword(email, password, client);
    return (await this.signIn(proof.user, { flow: 'browser', method: 'password' }, client, {}, proof)) as BrowserSignIn;
  }

  /**
   * Sign-in through an external provider (`identities/`), once the provider's answer has been
   * verified and resolved to `user`: the same refusals as a password sign-in (deactivated,
   * banned, unverified email when AUTH_REQUIRE_EMAIL_VERIFICATION is on, recorded as refused
   * attempts), the same new-device notice, login attempt and audit entry (`auth.login` with
   * `method: identity` and the provider), then {@link completeSignIn} with method
   * `oidc:<provider>`: a user with a second factor gets `mfa_required` as after a password.
   * @throws AppError `account_deactivated` (401), `user_banned` (403), `email_not_verified`
   *   (403), `mfa_required` (401).
   */
  async signInWithIdentity<F extends SignInFlow>(user: UserRow, client: ClientInfo, provider: string, flow: F): Promise<Extract<SignInResult, { flow: F }>> {
    const via: PrimaryMethod = { method: 'identity', provider };
    await this.assertMaySignIn(user, client, via);
    await this.options.loginObserver?.passwordVerified(user, client);
    const proof: ProvenSignIn = { user, email: user.email, client, via, rehash: null };
    return (await this.signIn(user, { flow, method: `oidc:${provider}` }, client, {}, proof)) as Extract<SignInResult, { flow: F }>;
  }

  /**
   * Refuses a sign-in of `user` as a password sign-in would after the password was proven
   * (recording the refused attempt): deactivated, banned, or an unverified email while
   * AUTH_REQUIRE_EMAIL_VERIFICATION is on.
   * @throws AppError `account_deactivated` (401), `user_banned` (403), `email_not_verified` (403).
   */
  async assertMaySignIn(user: UserRow, client: ClientInfo, via: PrimaryMethod): Promise<void> {
    const refusal = this.signInRefusal(user);
    if (!refusal) return;
    await this.recordAttempt(user.email, user, client, refusal.code, via);
    throw refusal;
  }

  /**
   * RFC 6749 §4.3 resource owner password credentials grant: creates an API session with a
   * refresh token family and returns an access token.
   * @throws AppError `invalid_grant` (400) for any credential problem; `mfa_required` (401) when
   *   the user has TOTP on.
   */
  async passwordGrant(username: string, password: string, client: ClientInfo): Promise<TokenResponse> {
    let proof: ProvenSignIn;
    try {
      proof = await this.provePassword(username, password, client);
    } catch (error) {
      if (isAppError(error) && error.status !== 429) throw new AppError('invalid_grant', error.detail ?? error.message);
      throw error;
    }
    try {
      const result = await this.signIn(proof.user, { flow: 'api', method: 'password' }, client, {}, proof);
      return (result as Extract<SignInResult, { flow: 'api' }>).tokens;
    } catch (error) {
      if (isAppError(error) && error.code !== 'mfa_required') throw new AppError('invalid_grant', error.detail ?? error.message);
      throw error;
    }
  }

  /**
   * RFC 6749 §6 refresh: rotates the refresh token and issues a new access token. Reuse of a
   * rotated token revokes the family.
   * @throws AppError `invalid_grant` (400).
   */
  async refreshGrant(presented: string): Promise<TokenResponse> {
    if (!looksLikeToken(presented)) throw new AppError('invalid_grant', 'The refresh token is invalid.');
    const row = await findRefreshTokenByHash(this.options.db, hashToken(presented));
    if (!row) throw new AppError('invalid_grant', 'The refresh token is invalid.');
    if (row.used_at) {
      await this.revokeFamily(row.session_id);
      throw new AppError('invalid_grant', 'The refresh token was already used; the session has been revoked.');
    }
    const now = this.options.clock.now();
    if (Date.parse(row.expires_at) <= now.getTime()) throw new AppError('invalid_grant', 'The refresh token has expired.');
    const valid = await this.options.sessions.validateSessionId(row.session_id);
    if (!valid) throw new AppError('invalid_grant', 'The session has ended.');

    const next = generateToken();
    const rotated = await inTransaction(this.options.db, async (tx) => {
      if (!(await markRefreshTokenUsed(tx.db, row.id, now.toISOString()))) return false;
      const expiresAt = await this.options.sessions.extend(tx.db, valid.session);
      await insertRefreshToken(tx.db, {
        id: newId(),
        session_id: row.session_id,
        token_hash: hashToken(next),
        parent_id: row.id,
        created_at: now.toISOString(),
        expires_at: expiresAt,
        used_at: null,
      });
      await this.options.changes.sessionChanged(tx, row.session_id);
      return true;
    });
    if (!rotated) {
      // A concurrent request exchanged the same token first: that is reuse too.
      await this.revokeFamily(row.session_id);
      throw new AppError('invalid_grant', 'The refresh token was already used; the session has been revoked.');
    }
    return this.tokenResponse(valid.user.id, row.session_id, next);
  }

  /**
   * Ends the principal's session (cookie or the session behind a bearer token).
   * @throws AppError `bad_request` for API keys, which are revoked with `DELETE /api-keys/{id}`.
   */
  async logout(principal: Principal, actor: ActorContext): Promise<void> {
    const session = principal.session;
    if (!session) throw new AppError('bad_request', 'API keys do not log out; revoke the key instead.');
    await inTransaction(this.options.db, async (tx) => {
      await this.options.sessions.revokeInTx(tx, session.id, 'logout');
      await this.options.audit.record(tx.db, actor, { action: 'auth.logout', targetType: 'session', targetId: session.id });
    });
  }

  /**
   * Re-authentication before a sensitive action (OWASP ASVS V6.2 / V7.5: a stolen session or
   * key must not mint lasting credentials). Passes when `password` is the user's password, or
   * when it is absent and the principal is a browser session that signed in within
   * {@link FRESH_SIGN_IN_SECONDS} (its row's `created_at`). Access tokens and API keys always
   * need the password. Password checks go through {@link verifyCurrentPassword} (the login
   * guard), so this cannot be used to guess passwords faster than sign-in can.
   * @throws AppError `reauthentication_required` (403) when the password is missing or wrong;
   *   `rate_limited` (429) while the guard locks this email/IP out.
   */
  async confirmIdentity(principal: Principal, password: string | undefined, client: ClientInfo): Promise<void> {
    if (password === undefined) {
      if (this.signedInFreshly(principal)) return;
      throw new AppError('reauthentication_required', `Send your password as \`password\` (only a browser sign-in of the last ${FRESH_SIGN_IN_SECONDS / 60} minutes may omit it).`, {
        errors: [{ field: '/password', message: 'is required' }],
      });
    }
    if (!(await this.verifyCurrentPassword(principal.user, password, client))) {
      throw new AppError('reauthentication_required', 'The password is not correct.', {
        errors: [{ field: '/password', message: 'is not correct' }],
      });
    }
  }

  /**
   * True when `principal` is a browser (cookie) session whose row was created at most
   * {@link FRESH_SIGN_IN_SECONDS} ago by the injected clock: a sign-in just now, by any method
   * (password, passkey, provider), proves its holder as well as a password would.
   */
  private signedInFreshly(principal: Principal): boolean {
    const session = principal.session;
    if (principal.method !== 'cookie' || !session) return false;
    return this.options.clock.now().getTime() - Date.parse(session.created_at) <= FRESH_SIGN_IN_SECONDS * 1000;
  }

  /**
   * Checks a signed-in user's current password (before a password change, an email change, a
   * self-deactivation, a sensitive action) behind the same login guard as sign-in: while the
   * (account email, IP) pair or the IP is locked out nothing is verified; a wrong password counts
   * as a failed sign-in (and can start a lockout), a right one resets the pair's count. OWASP
   * ASVS V2.2.1 and the Authentication Cheat Sheet: every password check is throttled, or a
   * stolen session could guess the password at full speed here. The stored hash is re-read, so
   * a password changed a moment ago counts. An account without a usable password (`null`, or an
   * imported account's unusable hash) never matches; that costs the same argon2 time.
   * @param user the signed-in user (`id` to re-read the row, `email` keys the guard).
   * @returns true when `password` is the account's password; false when it is not (failure counted).
   * @throws AppError `rate_limited` (429, with `Retry-After`) while the guard locks this email/IP out.
   */
  async verifyCurrentPassword(user: Pick<UserRow, 'id' | 'email'>, password: string, client: ClientInfo): Promise<boolean> {
    const guard = this.options.loginGuard;
    await guard.assertAllowed(user.email, client.ip);
    const fresh = await this.options.users.findById(user.id);
    if (!fresh || !(await this.options.hasher.verify(fresh.password_hash, password))) {
      await guard.recordFailure(user.email, client.ip);
      return false;
    }
    await guard.recordSuccess(user.email, client.ip);
    return true;
  }

  /** Resolves a session cookie to a principal, or `null` when it is not (or no longer) valid. */
  async authenticateCookie(token: string): Promise<Principal | null> {
    const found = await this.options.sessions.validateCookieToken(token);
    if (!found || found.session.kind !== 'browser') return null;
    return this.sessionPrincipal(found, 'cookie');
  }

  /**
   * Resolves an `Authorization: Bearer` credential — an access token or a `gh_…` API key — to a
   * principal, or `null` when it is invalid, expired or revoked.
   */
  async authenticateBearer(token: string): Promise<Principal | null> {
    if (looksLikeApiKey(token)) {
      const found = await this.options.apiKeys.authenticate(token);
      if (!found) return null;
      const access = await this.options.access.effectiveAccess(found.user);
      return {
        user: found.user,
        session: null,
        apiKey: found.key,
        renewed: false,
        method: 'api_key',
        access,
        permissions: this.keyPermissions(found.key, access),
      };
    }
    const claims = await this.options.accessTokens.verify(token);
    if (!claims) return null;
    const found = await this.options.sessions.validateSessionId(claims.sid);
    if (!found || found.user.id !== claims.sub) return null;
    return this.sessionPrincipal(found, 'bearer');
  }

  /** The principal of a valid session (browser cookie or access token): the user's full grants. */
  private async sessionPrincipal(found: SessionWithUser, method: 'cookie' | 'bearer'): Promise<Principal> {
    const access = await this.options.access.effectiveAccess(found.user);
    // Built property by property: an object literal that adds properties after a spread costs
    // about a microsecond per added property on Node 20 (V8 11), on every request.
    return { session: found.session, user: found.user, renewed: found.renewed, apiKey: null, method, access, permissions: access.permissions };
  }

  /**
   * Whether the credential behind `principal` (its session, or its API key) still holds, read
   * from the database past every cache: used by long-lived streams when they are told of a
   * revocation and before each new subscription on an open socket.
   */
  credentialStillValid(principal: Principal): Promise<boolean> {
    if (principal.apiKey) return this.options.apiKeys.isLive(principal.apiKey.id);
    if (principal.session) return this.options.sessions.isLive(principal.session.id);
    return Promise.resolve(false);
  }

  private async revokeFamily(sessionId: string): Promise<void> {
    this.options.logger.warn({ sessionId }, 'refresh token reuse detected; revoking the token family');
    await inTransaction(this.options.db, async (tx) => {
      await this.options.sessions.revokeInTx(tx, sessionId, 'refresh_token_reuse');
      await this.options.audit.record(tx.db, { actorId: null, ip: null, userAgent: null }, {
        action: 'auth.refresh_reuse',
        targetType: 'session',
        targetId: sessionId,
      });
    });
  }

  /** Records a login attempt and its audit entry in a transaction of their own. */
  private async recordAttempt(email: string, user: UserRow | null, client: ClientInfo, outcome: string, via: PrimaryMethod = { method: 'password' }): Promise<void> {
    await inTransaction(this.options.db, (tx) => this.writeAttempt(tx, email, user, client, outcome, via));
  }

  /** Writes a login attempt (`login_attempt`) and its `auth.login` / `auth.login_failed` audit entry inside `tx`. */
  private async writeAttempt(tx: Tx, email: string, user: UserRow | null, client: ClientInfo, outcome: string, via: PrimaryMethod): Promise<void> {
    const actor: ActorContext = { actorId: user?.id ?? null, ip: client.ip, userAgent: client.userAgent };
    await this.options.audit.recordLoginAttempt(tx.db, { email, userId: user?.id ?? null, ip: client.ip, outcome });
    await this.options.audit.record(tx.db, actor, {
      action: outcome === 'success' ? 'auth.login' : 'auth.login_failed',
      targetType: 'user',
      targetId: user?.id ?? null,
      details: {
        email: email.trim().toLowerCase().slice(0, 254),
        outcome,
        ...(via.method === 'identity' ? { method: 'identity', provider: via.provider } : {}),
      },
    });
  }

  private async tokenResponse(userId: string, sessionId: string, refreshToken: string): Promise<TokenResponse> {
    return {
      access_token: await this.options.accessTokens.issue(userId, sessionId),
      token_type: 'Bearer',
      expires_in: this.options.accessTokens.ttlSeconds,
      refresh_token: refreshToken,
    };
  }
}
