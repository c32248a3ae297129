/**
 * Two-factor authentication and passkeys: TOTP enrolment (RFC 6238) with recovery codes, the
 * `mfa` challenge that stands between a proven first factor and a session, passkeys (WebAuthn
 * Level 2 via `@simplewebauthn/server`) for sign-in without a password, and the administrators'
 * reset.
 *
 * Secrets: the TOTP secret is shown once, at enrolment, and never returned again; it is stored
 * AES-256-GCM-encrypted when MFA_ENCRYPTION_KEY is set (otherwise as-is, like the JWT signing
 * keys). Recovery codes, `mfa` tokens and WebAuthn challenges are stored only as SHA-256 hashes.
 * Code checks go through the login throttle (keyed `mfa:<email>` + IP), and each `mfa` token also
 * burns after MFA_MAX_ATTEMPTS wrong codes.
 */
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type { UserDirectory } from '../accounts/user-directory.service.js';
import type { ActorContext, AuditLog } from '../audit/audit.service.js';
import type { LoginGuard, Principal, SecondFactorChallenge, SignInAttempt } from '../auth/auth.service.js';
import { generateToken, hashToken, looksLikeToken } from '../crypto/tokens.js';
import { isUniqueViolation } from '../db/executor.js';
import type { Database, PasskeyRow, UserRow } from '../db/schema.js';
import { inTransaction, type Tx } from '../db/transaction.js';
import type { NotifyService } from '../notify/notify.service.js';
import type { AuthChanges } from '../sessions/auth-changes.js';
import type { ClientInfo } from '../sessions/sessions.service.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import type { MfaSettings } from './mfa.config.js';
import {
  acceptTotpStep,
  advancePasskeyCounter,
  consumeChallenge,
  countChallengeFailure,
  countUnusedRecoveryCodes,
  deleteAllPasskeys,
  deleteExpiredChallenges,
  deletePasskey,
  deleteTotpAndRecoveryCodes,
  findLiveChallenge,
  findPasskeyByCredentialId,
  findTotp,
  insertChallenge,
  insertPasskey,
  listPasskeys,
  putPendingTotp,
  renamePasskey,
  replaceRecoveryCodes,
  useRecoveryCode,
} from './mfa.repo.js';
import {
  hashRecoveryCode,
  matchTotpStep,
  newRecoveryCode,
  newTotpSecret,
  openSecret,
  RECOVERY_CODE_COUNT,
  sealSecret,
  totpUri,
} from './totp.js';
import type { PasskeyView } from './mfa.views.js';

/**
 * `@simplewebauthn/server`, loaded on the first passkey ceremony: it pulls in a large ASN.1/X.509
 * stack (about 0.2 s of start-up) that one-shot CLI commands and servers without passkey traffic
 * never need.
 */
function webauthn(): Promise<typeof import('@simplewebauthn/server')> {
  return import('@simplewebauthn/server');
}

/** A user's second factors, as `GET /users/me/mfa` shows them. */
export interface MfaStatus {
  totp_enabled: boolean;
  /** When TOTP was confirmed; null when off. */
  totp_enabled_at: string | null;
  /** Unused recovery codes left. */
  recovery_codes_remaining: number;
  /** Registered passkeys. */
  passkeys: number;
  /** True when one of the user's groups requires TOTP (`require_mfa`). */
  required: boolean;
}

/** What enrolment shows once: the secret, its key URI and a QR code of the URI. */
export interface TotpEnrolment {
  /** Base32 secret, for typing into an app by hand. */
  secret: string;
  /** `otpauth://totp/<issuer>:<email>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`. */
  otpauth_uri: string;
  /** The URI as a QR code, an SVG document. */
  qr_svg: string;
}

/** A second-factor proof: exactly one of a TOTP code or a recovery code. */
export interface SecondFactorProof {
  code?: string | undefined;
  recovery_code?: string | undefined;
}

/** A completed `mfa` challenge: whom it signs in and how (what the primary sign-in would have issued). */
export interface CompletedChallenge {
  user: UserRow;
  flow: SignInAttempt['flow'];
  method: string;
  factor: 'totp' | 'recovery_code';
}

/** Options for {@link MfaService}. */
export interface MfaServiceOptions {
  db: Kysely<Database>;
  /** The `user` rows (the accounts module's service). */
  users: UserDirectory;
  clock: Clock;
  settings: MfaSettings;
  audit: AuditLog;
  notify: NotifyService;
  changes: AuthChanges;
  /** The login throttle: code attempts count like password attempts, under the key `mfa:<email>`. */
  loginGuard: LoginGuard;
  /** Re-authentication (password) before turning TOTP off. */
  confirmIdentity(principal: Principal, password: string, client: ClientInfo): Promise<void>;
  /** Base URL of the pages emailed links open (FRONTEND_URL, else PUBLIC_URL), without trailing slash. */
  publicUrl: string;
}

function toPasskeyView(row: PasskeyRow): PasskeyView {
  return {
    id: row.id,
    name: row.name,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    device_type: row.device_type,
    backed_up: row.backed_up === 1,
    transports: JSON.parse(row.transports) as string[],
  };
}

/** The challenge a WebAuthn response answers (from its clientDataJSON), or null when unreadable. */
function challengeOf(response: { response: { clientDataJSON: string } }): string | null {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data.challenge === 'string' && data.challenge.length > 0 && data.challenge.length <= 512 ? data.challenge : null;
  } catch {
    return null;
  }
}

function passkeyFailure(detail: string): AppError {
  return new AppError('passkey_verification_failed', detail);
}

export class MfaService {
  constructor(private readonly options: MfaServiceOptions) {}

  private nowIso(): string {
    return this.options.clock.now().toISOString();
  }

  /** The user's second factors. */
  async status(user: UserRow, required: boolean): Promise<MfaStatus> {
    const db = this.options.db;
    const [totp, remaining, passkeys] = await Promise.all([findTotp(db, user.id), countUnusedRecoveryCodes(db, user.id), listPasskeys(db, user.id)]);
    return {
      totp_enabled: Boolean(totp?.confirmed_at),
      totp_enabled_at: totp?.confirmed_at ?? null,
      recovery_codes_remaining: remaining,
      passkeys: passkeys.length,
      required,
    };
  }

  /**
   * Starts TOTP enrolment: a new secret (replacing an unconfirmed one), its key URI and QR code.
   * Nothing changes for sign-in until {@link confirmTotp}.
   * @throws AppError `conflict` when TOTP is already on (turn it off first).
   */
  async beginTotp(user: UserRow): Promise<TotpEnrolment> {
    const existing = await findTotp(this.options.db, user.id);
    if (existing?.confirmed_at) throw new AppError('conflict', 'Two-factor authentication is already on; turn it off first to enrol another authenticator.');
    const secret = newTotpSecret();
    await putPendingTotp(this.options.db, user.id, sealSecret(secret, this.options.settings.encryptionKey), this.nowIso());
    const uri = totpUri(secret, this.options.settings.issuer, user.email);
    return { secret, otpauth_uri: uri, qr_svg: await (await import('qrcode')).default.toString(uri, { type: 'svg', margin: 2 }) };
  }

  /**
   * Confirms enrolment with a code from the app: turns TOTP on and returns ten recovery codes,
   * shown this once. Audit `mfa.totp_enable`; the user is told by email.
   * @throws AppError `conflict` (no enrolment started, or already on), `invalid_mfa_code` (400),
   *   `rate_limited` (429).
   */
  async confirmTotp(principal: Principal, code: string, actor: ActorContext, client: ClientInfo): Promise<{ recovery_codes: string[] }> {
    const user = principal.user;
    const row = await findTotp(this.options.db, user.id);
    if (!row) throw new AppError('conflict', 'Start enrolment first: POST /api/v1/users/me/mfa/totp.');
    if (row.confirmed_at) throw new AppError('conflict', 'Two-factor authentication is already on.');
    const now = this.options.clock.now();
    const step = await this.throttled(user, client, async () => matchTotpStep(this.secretOf(row.secret), code, now));
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await inTransaction(this.options.db, async (tx) => {
      if (!(await acceptTotpStep(tx.db, user.id, step, now.toISOString()))) throw new AppError('invalid_mfa_code', 'This code was already used; wait for the next one.');
      await replaceRecoveryCodes(tx.db, user.id, codes.map((c) => ({ id: newId(), code_hash: hashRecoveryCode(c) })), now.toISOString());
      await this.options.users.update(user.id, { mfa_enabled_at: now.toISOString() }, tx.db);
      await this.options.audit.record(tx.db, actor, { action: 'mfa.totp_enable', targetType: 'user', targetId: user.id });
      await this.tell(tx, user, 'Two-factor authentication was turned on');
      await this.options.changes.userChanged(tx, user.id);
    });
    return { recovery_codes: codes };
  }

  /**
   * Turns TOTP off: needs the password and a current code (or a recovery code). Recovery codes
   * go too. Audit `mfa.totp_disable`; the user is told by email.
   * @throws AppError `reauthentication_required` (wrong password), `invalid_mfa_code`,
   *   `conflict` (TOTP is off), `rate_limited`.
   */
  async disableTotp(principal: Principal, password: string, proof: SecondFactorProof, actor: ActorContext, client: ClientInfo): Promise<void> {
    const user = principal.user;
    await this.options.confirmIdentity(principal, password, client);
    const row = await findTotp(this.options.db, user.id);
    if (!row?.confirmed_at) throw new AppError('conflict', 'Two-factor authentication is not on.');
    await this.proveSecondFactor(user, proof, client);
    await inTransaction(this.options.db, async (tx) => {
      await deleteTotpAndRecoveryCodes(tx.db, user.id);
      await this.options.users.update(user.id, { mfa_enabled_at: null }, tx.db);
      await this.options.audit.record(tx.db, actor, { action: 'mfa.totp_disable', targetType: 'user', targetId: user.id });
      await this.tell(tx, user, 'Two-factor authentication was turned off');
      await this.options.changes.userChanged(tx, user.id);
    });
  }

  /**
   * Replaces the recovery codes with ten new ones (shown once); needs a current code.
   * @throws AppError `invalid_mfa_code`, `conflict` (TOTP is off), `rate_limited`.
   */
  async regenerateRecoveryCodes(principal: Principal, proof: SecondFactorProof, actor: ActorContext, client: ClientInfo): Promise<{ recovery_codes: string[] }> {
    const user = principal.user;
    const row = await findTotp(this.options.db, user.id);
    if (!row?.confirmed_at) throw new AppError('conflict', 'Two-factor authentication is not on.');
    await this.proveSecondFactor(user, proof, client);
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await inTransaction(this.options.db, async (tx) => {
      await replaceRecoveryCodes(tx.db, user.id, codes.map((c) => ({ id: newId(), code_hash: hashRecoveryCode(c) })), this.nowIso());
      await this.options.audit.record(tx.db, actor, { action: 'mfa.recovery_codes_regenerate', targetType: 'user', targetId: user.id });
      await this.tell(tx, user, 'New recovery codes were generated (the old ones no longer work)');
    });
    return { recovery_codes: codes };
  }

  /**
   * The second-factor gate of sign-in (`AuthService.completeSignIn` asks it): a user with TOTP
   * on gets an `mfa` challenge token, valid MFA_CHALLENGE_TTL_SECONDS, single-use, bound to the
   * user and to the primary sign-in's flow and method; others sign in at once (null).
   */
  async challenge(user: UserRow, attempt: SignInAttempt): Promise<SecondFactorChallenge | null> {
    if (!user.mfa_enabled_at) return null;
    const token = generateToken();
    const now = this.options.clock.now();
    const ttl = this.options.settings.challengeTtlSeconds;
    await deleteExpiredChallenges(this.options.db, now.toISOString());
    await insertChallenge(this.options.db, {
      id: newId(),
      purpose: 'mfa',
      token_hash: hashToken(token),
      user_id: user.id,
      flow: attempt.flow,
      method: attempt.method,
      attempts: 0,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + ttl * 1000).toISOString(),
      used_at: null,
    });
    return { mfa_token: token, expires_in: ttl, methods: ['totp', 'recovery_code'] };
  }

  /**
   * Completes an `mfa` challenge with a code or a recovery code. The caller then issues what the
   * primary sign-in would have (`AuthService.completeSignIn` with the returned flow and method).
   * A wrong code counts against the token (burnt after MFA_MAX_ATTEMPTS) and the login throttle.
   * @throws AppError `invalid_token` (unknown, expired, used or burnt token), `invalid_mfa_code`,
   *   `rate_limited`.
   */
  async completeChallenge(mfaToken: string, proof: SecondFactorProof, client: ClientInfo): Promise<CompletedChallenge> {
    const expired = new AppError('invalid_token', 'The mfa_token is invalid, expired or already used: sign in again.');
    if (!looksLikeToken(mfaToken)) throw expired;
    const db = this.options.db;
    const row = await findLiveChallenge(db, hashToken(mfaToken), 'mfa', this.nowIso());
    if (!row?.user_id) throw expired;
    const user = await this.options.users.findById(row.user_id);
    if (!user) throw expired;
    let factor: 'totp' | 'recovery_code';
    try {
      factor = await this.proveSecondFactor(user, proof, client);
    } catch (error) {
      if (error instanceof AppError && error.code === 'invalid_mfa_code') {
        const attempts = await countChallengeFailure(db, row.id, this.options.settings.maxAttempts, this.nowIso());
        await this.options.audit.record(db, { actorId: user.id, ip: client.ip, userAgent: client.userAgent }, {
          action: 'mfa.failed',
          targetType: 'user',
          targetId: user.id,
          details: { attempts },
        });
      }
      throw error;
    }
    if (!(await consumeChallenge(db, row.id, this.nowIso()))) throw expired;
    return { user, flow: row.flow === 'api' ? 'api' : 'browser', method: row.method ?? 'password', factor };
  }

  /**
   * Administrators' reset (`gatehouse users reset-mfa`): removes the user's TOTP authenticator and
   * recovery codes, and with `passkeys` their passkeys too. Audit `mfa.reset`; the user is told.
   * @returns what was removed.
   * @throws AppError `not_found`.
   */
  async reset(userId: string, options: { passkeys: boolean }, actor: ActorContext): Promise<{ totp_removed: boolean; passkeys_removed: number }> {
    const user = await this.options.users.findById(userId);
    if (!user) throw new AppError('not_found', 'No such user.');
    return inTransaction(this.options.db, async (tx) => {
      const totpRemoved = await deleteTotpAndRecoveryCodes(tx.db, user.id);
      const passkeysRemoved = options.passkeys ? await deleteAllPasskeys(tx.db, user.id) : 0;
      await this.options.users.update(user.id, { mfa_enabled_at: null }, tx.db);
      await this.options.audit.record(tx.db, actor, {
        action: 'mfa.reset',
        targetType: 'user',
        targetId: user.id,
        details: { totp_removed: totpRemoved, passkeys_removed: passkeysRemoved },
      });
      await this.tell(tx, user, passkeysRemoved ? 'An administrator reset your two-factor authentication and removed your passkeys' : 'An administrator reset your two-factor authentication');
      await this.options.changes.userChanged(tx, user.id);
      return { totp_removed: totpRemoved, passkeys_removed: passkeysRemoved };
    });
  }

  /**
   * WebAuthn registration options for a signed-in user (a discoverable credential, user
   * verification required, the user's passkeys excluded). The challenge is kept (hashed) for
   * {@link verifyPasskeyRegistration}.
   */
  async passkeyRegistrationOptions(user: UserRow): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const s = this.options.settings;
    const existing = await listPasskeys(this.options.db, user.id);
    const options = await (await webauthn()).generateRegistrationOptions({
      rpName: s.rpName,
      rpID: s.rpId,
      userName: user.email,
      userDisplayName: user.name || user.email,
      // The user handle is the user id: a discoverable credential names its user at sign-in.
      userID: new TextEncoder().encode(user.id),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: JSON.parse(p.transports) as never })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      timeout: s.ceremonyTtlSeconds * 1000,
    });
    await this.storeCeremony('passkey_register', options.challenge, user.id);
    return options;
  }

  /**
   * Verifies a registration response and stores the passkey. Audit `passkey.add`; the user is told.
   * @throws AppError `passkey_verification_failed` (400: unknown or used challenge, wrong origin or
   *   RP id, no user verification, bad attestation), `conflict` (already registered).
   */
  async verifyPasskeyRegistration(user: UserRow, response: RegistrationResponseJSON, name: string | undefined, actor: ActorContext): Promise<PasskeyView> {
    const s = this.options.settings;
    const challenge = await this.takeCeremony('passkey_register', response, user.id);
    let verification;
    try {
      verification = await (await webauthn()).verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: s.origins,
        expectedRPID: s.rpId,
        requireUserVerification: true,
      });
    } catch (error) {
      throw passkeyFailure((error as Error).message);
    }
    if (!verification.verified || !verification.registrationInfo) throw passkeyFailure('The registration response did not verify.');
    const info = verification.registrationInfo;
    const now = this.nowIso();
    try {
      const row = await inTransaction(this.options.db, async (tx) => {
        const created = await insertPasskey(tx.db, {
          id: newId(),
          user_id: user.id,
          credential_id: info.credential.id,
          public_key: Buffer.from(info.credential.publicKey).toString('base64url'),
          counter: info.credential.counter,
          transports: JSON.stringify(info.credential.transports ?? response.response.transports ?? []),
          name: name?.trim() || 'Passkey',
          device_type: info.credentialDeviceType,
          backed_up: info.credentialBackedUp ? 1 : 0,
          created_at: now,
          last_used_at: null,
        });
        await this.options.audit.record(tx.db, actor, { action: 'passkey.add', targetType: 'passkey', targetId: created.id, details: { name: created.name } });
        await this.tell(tx, user, `A passkey ("${created.name}") was added`);
        return created;
      });
      return toPasskeyView(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('conflict', 'This passkey is already registered.');
      throw error;
    }
  }

  /** WebAuthn options for signing in with a discoverable passkey (no user named, user verification required). */
  async passkeyAuthenticationOptions(): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const s = this.options.settings;
    const options = await (await webauthn()).generateAuthenticationOptions({ rpID: s.rpId, userVerification: 'required', timeout: s.ceremonyTtlSeconds * 1000 });
    await this.storeCeremony('passkey_login', options.challenge, null);
    return options;
  }

  /**
   * Verifies a passkey sign-in: the challenge (single-use), origin, RP id, user verification, the
   * signature against the stored public key, and the signature counter, which must grow (a
   * counter that does not, from an authenticator that keeps one, is refused: the passkey may have
   * been cloned, WebAuthn §6.1.1). The caller then completes sign-in (a passkey with user
   * verification satisfies MFA). Audit `auth.passkey_login`.
   * @throws AppError `passkey_verification_failed` (400).
   */
  async verifyPasskeyAuthentication(response: AuthenticationResponseJSON, client: ClientInfo): Promise<UserRow> {
    const s = this.options.settings;
    const challenge = await this.takeCeremony('passkey_login', response, null);
    const db = this.options.db;
    const passkey = typeof response.id === 'string' ? await findPasskeyByCredentialId(db, response.id) : undefined;
    if (!passkey) throw passkeyFailure('This passkey is not registered here.');
    const handle = response.response.userHandle;
    if (handle && Buffer.from(handle, 'base64url').toString('utf8') !== passkey.user_id) throw passkeyFailure('The passkey belongs to another user.');
    let verification;
    try {
      verification = await (await webauthn()).verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: s.origins,
        expectedRPID: s.rpId,
        credential: {
          id: passkey.credential_id,
          publicKey: new Uint8Array(Buffer.from(passkey.public_key, 'base64url')),
          counter: passkey.counter,
          transports: JSON.parse(passkey.transports) as never,
        },
        requireUserVerification: true,
      });
    } catch (error) {
      const message = (error as Error).message;
      if (/counter/i.test(message)) {
        await this.options.audit.record(db, { actorId: passkey.user_id, ip: client.ip, userAgent: client.userAgent }, {
          action: 'mfa.failed',
          targetType: 'passkey',
          targetId: passkey.id,
          details: { reason: 'counter_regression' },
        });
        throw passkeyFailure('The passkey\'s signature counter did not increase: it may have been cloned. Sign-in refused.');
      }
      throw passkeyFailure(message);
    }
    if (!verification.verified) throw passkeyFailure('The passkey signature did not verify.');
    const now = this.nowIso();
    if (!(await advancePasskeyCounter(db, passkey.id, passkey.counter, verification.authenticationInfo.newCounter, now))) {
      throw passkeyFailure('The passkey was used concurrently; try again.');
    }
    const user = await this.options.users.findById(passkey.user_id);
    if (!user) throw passkeyFailure('This passkey is not registered here.');
    await this.options.audit.record(db, { actorId: user.id, ip: client.ip, userAgent: client.userAgent }, {
      action: 'auth.passkey_login',
      targetType: 'passkey',
      targetId: passkey.id,
    });
    return user;
  }

  /** The user's passkeys, oldest first. */
  async listPasskeys(userId: string): Promise<PasskeyView[]> {
    return (await listPasskeys(this.options.db, userId)).map(toPasskeyView);
  }

  /** Renames one of the user's passkeys. Audit `passkey.rename`. @throws AppError `not_found`. */
  async renamePasskey(userId: string, id: string, name: string, actor: ActorContext): Promise<PasskeyView> {
    const trimmed = name.trim();
    if (!trimmed) throw new AppError('validation_failed', 'The name must not be blank.', { errors: [{ field: '/name', message: 'must not be blank' }] });
    return inTransaction(this.options.db, async (tx) => {
      const row = await renamePasskey(tx.db, userId, id, trimmed);
      if (!row) throw new AppError('not_found', 'No such passkey.');
      await this.options.audit.record(tx.db, actor, { action: 'passkey.rename', targetType: 'passkey', targetId: id, details: { name: trimmed } });
      return toPasskeyView(row);
    });
  }

  /** Removes one of the user's passkeys. Audit `passkey.remove`; the user is told. @throws AppError `not_found`. */
  async removePasskey(user: UserRow, id: string, actor: ActorContext): Promise<void> {
    await inTransaction(this.options.db, async (tx) => {
      const row = await deletePasskey(tx.db, user.id, id);
      if (!row) throw new AppError('not_found', 'No such passkey.');
      await this.options.audit.record(tx.db, actor, { action: 'passkey.remove', targetType: 'passkey', targetId: id, details: { name: row.name } });
      await this.tell(tx, user, `A passkey ("${row.name}") was removed`);
    });
  }

  /**
   * Checks a code or recovery code for a user with TOTP on, behind the login throttle.
   * @throws AppError `invalid_mfa_code`, `rate_limited`.
   */
  private async proveSecondFactor(user: UserRow, proof: SecondFactorProof, client: ClientInfo): Promise<'totp' | 'recovery_code'> {
    const given = [proof.code, proof.recovery_code].filter((v) => v !== undefined).length;
    if (given !== 1) {
      throw new AppError('validation_failed', 'Send exactly one of `code` or `recovery_code`.', {
        errors: [{ field: '/code', message: 'exactly one of code or recovery_code is required' }],
      });
    }
    const db = this.options.db;
    const now = this.options.clock.now();
    if (proof.code !== undefined) {
      const code = proof.code;
      const row = await findTotp(db, user.id);
      if (!row?.confirmed_at) throw new AppError('invalid_mfa_code', 'Two-factor authentication is not on for this account.');
      const step = await this.throttled(user, client, async () => matchTotpStep(this.secretOf(row.secret), code, now));
      // Replay (RFC 6238 §5.2): a code is accepted once; later codes of the same or earlier steps are refused.
      if (!(await acceptTotpStep(db, user.id, step, null))) throw new AppError('invalid_mfa_code', 'This code was already used; wait for the next one.');
      return 'totp';
    }
    const hash = hashRecoveryCode(proof.recovery_code as string);
    await this.throttled(user, client, async () => ((await useRecoveryCode(db, user.id, hash, now.toISOString())) ? true : null));
    await this.options.audit.record(db, { actorId: user.id, ip: client.ip, userAgent: client.userAgent }, {
      action: 'mfa.recovery_code_use',
      targetType: 'user',
      targetId: user.id,
      details: { remaining: await countUnusedRecoveryCodes(db, user.id) },
    });
    return 'recovery_code';
  }

  /**
   * The TOTP secret from its stored form.
   * @throws AppError `service_unavailable` (503) when it cannot be decrypted (MFA_ENCRYPTION_KEY unset or changed).
   */
  private secretOf(stored: string): string {
    try {
      return openSecret(stored, this.options.settings.encryptionKey);
    } catch (error) {
      throw new AppError(
        'service_unavailable',
        'The TOTP secret cannot be read (MFA_ENCRYPTION_KEY is missing or was changed); an administrator can reset two-factor authentication.',
        { cause: error },
      );
    }
  }

  /** Runs `check` behind the login throttle (`mfa:<email>` + IP); null from `check` is a failure. */
  private async throttled<T>(user: UserRow, client: ClientInfo, check: () => Promise<T | null>): Promise<T> {
    const guard = this.options.loginGuard;
    const key = `mfa:${user.email}`;
    await guard.assertAllowed(key, client.ip);
    const result = await check();
    if (result === null) {
      await guard.recordFailure(key, client.ip);
      throw new AppError('invalid_mfa_code');
    }
    await guard.recordSuccess(key, client.ip);
    return result;
  }

  private async storeCeremony(purpose: 'passkey_register' | 'passkey_login', challenge: string, userId: string | null): Promise<void> {
    const now = this.options.clock.now();
    await deleteExpiredChallenges(this.options.db, now.toISOString());
    await insertChallenge(this.options.db, {
      id: newId(),
      purpose,
      token_hash: hashToken(challenge),
      user_id: userId,
      flow: null,
      method: null,
      attempts: 0,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + this.options.settings.ceremonyTtlSeconds * 1000).toISOString(),
      used_at: null,
    });
  }

  /** Consumes the stored challenge a WebAuthn response answers. @throws AppError `passkey_verification_failed`. */
  private async takeCeremony(
    purpose: 'passkey_register' | 'passkey_login',
    response: { response: { clientDataJSON: string } },
    userId: string | null,
  ): Promise<string> {
    const challenge = challengeOf(response);
    const failure = passkeyFailure('The challenge is unknown, expired or already used: ask for new options.');
    if (!challenge) throw failure;
    const row = await findLiveChallenge(this.options.db, hashToken(challenge), purpose, this.nowIso());
    if (!row || row.user_id !== userId) throw failure;
    if (!(await consumeChallenge(this.options.db, row.id, this.nowIso()))) throw failure;
    return challenge;
  }

  private async tell(tx: Tx, user: UserRow, change: string): Promise<void> {
    await this.options.notify.enqueue(tx, 'user.mfa_changed', {
      user: { id: user.id, email: user.email, name: user.name },
      change,
      at: this.nowIso(),
      reset_url: `${this.options.publicUrl}/forgot-password`,
    });
  }
}
