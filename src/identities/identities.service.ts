/**
 * Social sign-in: the providers on offer, the authorization code flow with each (through
 * {@link ProviderClients}, i.e. openid-client), and the accounts behind it.
 *
 * Account rules (OWASP Authentication Cheat Sheet; the account-linking advice of RFC 9700 §4.x
 * and of every identity server: never trust an email alone):
 * - a provider account (`provider`, `subject`) linked to a user signs in to that user;
 * - an unknown provider account whose email has no account creates one, without a password;
 *   the email counts as verified only when the provider vouches for it;
 * - an unknown provider account whose VERIFIED email belongs to an existing account is linked
 *   only once the person proves that account: its password, or a link emailed to it. Never
 *   silently: whoever controls a provider account with that email may not be its owner;
 * - an unverified provider email never links, and never marks an address verified;
 * - a signed-in person links a provider explicitly (`startLink`, a POST with the CSRF check).
 *
 * Every successful sign-in goes through {@link AuthService.signInWithIdentity} (refusals for
 * deactivated, banned and unverified accounts, the new-device notice, the login attempt and
 * audit entry, then {@link AuthService.completeSignIn}, which asks for the second factor of
 * users who have one): the same path as a password.
 *
 * Flow state (`state`, `nonce`, the PKCE verifier, where to return) travels in a short-lived
 * cookie signed with the server's key ({@link AccessTokenService.signStatement}), so any
 * instance can finish a flow another started. API clients get a one-time code (60 s) bound to
 * their own PKCE challenge, exchanged at `/auth/token` (RFC 6749 §4.1.3, RFC 7636 §4.6).
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/accounts.service.js';
import type { UserDirectory } from '../accounts/user-directory.service.js';
import type { ActorContext, AuditLog } from '../audit/audit.service.js';
import type { AuthService, BrowserSignIn, TokenResponse } from '../auth/auth.service.js';
import { constantTimeEqual, generateToken, hashToken, looksLikeToken } from '../crypto/tokens.js';
import { isUniqueViolation } from '../db/executor.js';
import type { Database, IdentityRow, IdentityTicketRow, UserRow } from '../db/schema.js';
import { inTransaction, type Tx } from '../db/transaction.js';
import type { NotifyService } from '../notify/notify.service.js';
import { notifyUser } from '../notify/notify.service.js';
import type { ClientInfo } from '../sessions/sessions.service.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import type { AccessTokenService } from '../tokens/access-tokens.service.js';
import type { IdentitiesConfig, ProviderSettings } from './identities.config.js';
import {
  consumeTicket,
  deleteExpiredTickets,
  deleteIdentityOfUser,
  findIdentity,
  findLiveTicket,
  insertIdentity,
  insertTicket,
  listIdentitiesOfUser,
  touchIdentity,
} from './identities.repo.js';
import { type ProviderProfile, ProviderClients } from './provider-client.js';
import type { IdentityView, ProviderView } from './identities.views.js';

/** Seconds a started flow may take before its callback (the flow cookie's lifetime). */
export const FLOW_TTL_SECONDS = 600;
/** Seconds an API client's one-time code stays exchangeable. */
export const LOGIN_CODE_TTL_SECONDS = 60;
/** Seconds a pending link waits for the account's password (or the request for an email). */
export const LINK_TTL_SECONDS = 900;
/** Seconds the emailed link confirmation stays valid. */
export const LINK_EMAIL_TTL_SECONDS = 3600;

/** The statement purpose (audience suffix and `typ`) of flow cookies. */
const FLOW_PURPOSE = 'oauth-flow';

/** What {@link IdentityService.start} hands the route: where to send the browser, and the flow cookie. */
export interface StartedFlow {
  /** The provider's authorization URL. */
  url: string;
  /** The signed flow state, to be set as an HttpOnly cookie for the callback. */
  flowCookie: string;
  /** True for `form_post` providers, whose callback is a cross-site POST (the cookie needs SameSite=None). */
  crossSitePost: boolean;
}

/** Input of {@link IdentityService.start}. */
export interface StartInput {
  /** Where to return afterwards (absolute, or a path on PUBLIC_URL). */
  redirect?: string | undefined;
  /** `browser` (session cookie) or `api` (one-time code for `/auth/token`). */
  mode: 'browser' | 'api';
  /** API clients: their PKCE S256 challenge for the one-time code. */
  codeChallenge?: string | undefined;
}

/**
 * How a callback (or a completed link) ended. `redirect` is where the browser goes next
 * (already allowed when the flow started).
 */
export type FlowOutcome =
  | { kind: 'session'; signIn: BrowserSignIn; redirect: string }
  | { kind: 'code'; code: string; redirect: string }
  | { kind: 'linked'; provider: string; redirect: string }
  | { kind: 'link_required'; ticket: string; provider: ProviderView; email: string; mode: 'browser' | 'api'; redirect: string };

/** The decoded flow cookie. */
interface FlowState {
  /** provider */
  p: string;
  s: string;
  n: string;
  v: string;
  /** redirect */
  r: string;
  /** mode */
  m: 'browser' | 'api';
  /** the API client's code challenge */
  cc?: string;
  /** the signed-in user linking a provider */
  l?: string;
}

/** Options for {@link IdentityService}. */
export interface IdentityServiceOptions {
  db: Kysely<Database>;
  /** The `user` rows (the accounts module's service). */
  users: UserDirectory;
  clock: Clock;
  logger: Logger;
  config: IdentitiesConfig;
  /** PUBLIC_URL, without trailing slash: the API's own URLs (provider callbacks). */
  publicUrl: string;
  /** Where people's pages live (FRONTEND_URL, else PUBLIC_URL), without trailing slash: redirects and emailed links. */
  appUrl: string;
  accessTokens: AccessTokenService;
  auth: AuthService;
  accounts: AccountService;
  audit: AuditLog;
  notify: NotifyService;
}

/** RFC 7636 §4.1: 43–128 characters of the unreserved set. */
const PKCE_VALUE = /^[A-Za-z0-9._~-]{43,128}$/;

export class IdentityService {
  private readonly clients: ProviderClients;
  private readonly allowedOrigins: Set<string>;

  constructor(private readonly options: IdentityServiceOptions) {
    this.clients = new ProviderClients((provider) => this.callbackUrl(provider.name));
    this.allowedOrigins = new Set([new URL(options.publicUrl).origin, new URL(options.appUrl).origin, ...options.config.redirectOrigins]);
  }

  /** The enabled providers, in configuration order. */
  listProviders(): ProviderView[] {
    return this.options.config.providers.map((p) => this.view(p));
  }

  /** The callback URL to register with a provider: `<PUBLIC_URL>/api/v1/auth/oauth/<name>/callback`. */
  callbackUrl(name: string): string {
    return `${this.options.publicUrl}/api/v1/auth/oauth/${name}/callback`;
  }

  /**
   * Starts a sign-in (or, with `linkUserId`, a link) with a provider: fresh `state`, `nonce`
   * and PKCE verifier, signed into the flow cookie, and the provider's authorization URL.
   * @throws AppError `not_found` (unknown provider), `redirect_not_allowed` (400: a redirect
   *   outside PUBLIC_URL and AUTH_REDIRECT_ORIGINS), `validation_failed` (an API client without
   *   a valid `code_challenge`), `identity_provider_unavailable` (503).
   */
  async start(name: string, input: StartInput, linkUserId?: string): Promise<StartedFlow> {
    const provider = this.provider(name);
    const redirect = this.allowedRedirect(input.redirect);
    if (input.mode === 'api') {
      if (!input.codeChallenge || !PKCE_VALUE.test(input.codeChallenge)) {
        throw new AppError('validation_failed', 'API clients send their PKCE code_challenge (S256, RFC 7636) with mode=api.', {
          errors: [{ field: '/code_challenge', message: 'is required with mode=api (43 to 128 characters)' }],
        });
      }
      if (!input.redirect) {
        throw new AppError('validation_failed', 'API clients say where to return with redirect.', { errors: [{ field: '/redirect', message: 'is required with mode=api' }] });
      }
    }
    const checks = await this.clients.newChecks();
    const url = await this.clients.authorizationUrl(provider, checks);
    const state: FlowState = { p: provider.name, s: checks.state, n: checks.nonce, v: checks.codeVerifier, r: redirect, m: input.mode };
    if (input.codeChallenge && input.mode === 'api') state.cc = input.codeChallenge;
    if (linkUserId) state.l = linkUserId;
    const flowCookie = await this.options.accessTokens.signStatement(FLOW_PURPOSE, { ...state }, FLOW_TTL_SECONDS);
    return { url: url.toString(), flowCookie, crossSitePost: provider.responseMode === 'form_post' };
  }

  /**
   * Reads where a flow cookie says to return, for error pages and error redirects (null when the
   * cookie is missing or does not verify).
   */
  async flowTarget(flowCookie: string | undefined): Promise<{ redirect: string; mode: 'browser' | 'api' } | null> {
    const flow = flowCookie ? await this.readFlow(flowCookie) : null;
    return flow ? { redirect: flow.r, mode: flow.m } : null;
  }

  /**
   * Completes a flow at the callback: verifies the flow cookie against the provider's answer
   * (through openid-client: state, PKCE, the code exchange, the ID token and its nonce), then
   * resolves the account (see the module comment) and signs in.
   * @param flowCookie the flow cookie as the browser sent it (undefined when it sent none).
   * @param callback the callback request as the provider sent it (its URL, or a form POST).
   * @throws AppError `not_found`, `identity_flow_invalid` (no, expired or foreign flow cookie;
   *   state mismatch; replayed code), `identity_denied`, `identity_provider_unavailable`,
   *   `identity_email_in_use`, `identity_email_required`, `identity_taken`, and the sign-in
   *   refusals (`account_deactivated`, `user_banned`, `email_not_verified`).
   */
  async callback(name: string, flowCookie: string | undefined, callback: URL | Request, client: ClientInfo): Promise<FlowOutcome> {
    const provider = this.provider(name);
    const flow = flowCookie ? await this.readFlow(flowCookie) : null;
    if (!flow || flow.p !== provider.name) {
      throw new AppError('identity_flow_invalid', 'This sign-in has expired, was already completed, or was started in another browser. Start the sign-in again.');
    }
    const profile = await this.clients.complete(provider, callback, { state: flow.s, nonce: flow.n, codeVerifier: flow.v });
    const actor: ActorContext = { actorId: null, ip: client.ip, userAgent: client.userAgent };

    if (flow.l) {
      await this.link(flow.l, provider, profile, { ...actor, actorId: flow.l });
      return { kind: 'linked', provider: provider.name, redirect: flow.r };
    }

    const now = this.options.clock.now().toISOString();
    const known = await findIdentity(this.options.db, provider.name, profile.subject);
    let user: UserRow | undefined;
    if (known) {
      await touchIdentity(this.options.db, known.id, { email: profile.email, email_verified: profile.emailVerified ? 1 : 0, last_sign_in_at: now });
      user = await this.options.users.findById(known.user_id);
      if (!user) throw new AppError('identity_flow_invalid', 'The account of this sign-in no longer exists.');
    } else {
      if (!profile.email) {
        throw new AppError('identity_email_required', `${provider.displayName} did not share an email address: allow Gatehouse to see your email at ${provider.displayName} and try again.`);
      }
      const existing = await this.options.users.findByEmail(profile.email);
      if (existing) return this.pendingLink(existing, provider, profile, flow);
      user = await this.createAccount(provider, profile, actor);
      if (!user) {
        // A registration took the address between the lookup and the insert.
        const raced = await this.options.users.findByEmail(profile.email);
        if (!raced) throw new AppError('conflict', 'The account could not be created; try again.');
        return this.pendingLink(raced, provider, profile, flow);
      }
    }
    return this.finishSignIn(user, provider.name, client, flow.m, flow.r, flow.cc ?? null);
  }

  /**
   * API clients: exchanges a one-time code for tokens (`grant_type=authorization_code`). The
   * code is consumed first, so a wrong verifier burns it (RFC 6749 §4.1.2: use once).
   * @throws AppError `invalid_grant` for an unknown, used or expired code, a `code_verifier`
   *   that does not match its challenge, or a different `redirect_uri`; the sign-in refusals
   *   as `invalid_grant` too.
   */
  async exchangeCode(code: string, codeVerifier: string, redirectUri: string | undefined, client: ClientInfo): Promise<TokenResponse> {
    if (!looksLikeToken(code)) throw new AppError('invalid_grant', 'The authorization code is invalid.');
    if (!PKCE_VALUE.test(codeVerifier)) throw new AppError('invalid_grant', 'The code_verifier is malformed (RFC 7636 §4.1).');
    const now = this.options.clock.now().toISOString();
    const ticket = await consumeTicket(this.options.db, hashToken(code), 'login_code', now);
    if (!ticket) throw new AppError('invalid_grant', 'The authorization code is invalid, expired or was already used.');
    const challenge = createHash('sha256').update(codeVerifier).digest('base64url');
    if (!ticket.code_challenge || !constantTimeEqual(challenge, ticket.code_challenge)) {
      throw new AppError('invalid_grant', 'The code_verifier does not match the code_challenge of this sign-in.');
    }
    if (redirectUri !== undefined && redirectUri !== ticket.redirect_uri) throw new AppError('invalid_grant', 'The redirect_uri differs from the one the sign-in started with.');
    const user = await this.options.users.findById(ticket.user_id);
    if (!user) throw new AppError('invalid_grant', 'The account no longer exists.');
    try {
      return (await this.options.auth.signInWithIdentity(user, client, ticket.provider, 'api')).tokens;
    } catch (error) {
      // A second factor is asked as after the password grant: `mfa_required` with its `mfa_token`.
      if (error instanceof AppError && error.status < 429 && error.code !== 'mfa_required') throw new AppError('invalid_grant', error.detail ?? error.message);
      throw error;
    }
  }

  /**
   * What a pending link is about (for the page asking for the password).
   * @throws AppError `identity_flow_invalid` when the link ticket is unknown, used or expired.
   */
  async pendingLinkInfo(ticket: string): Promise<{ provider: ProviderView; email: string }> {
    const row = await this.liveTicket(ticket, 'link');
    const user = await this.options.users.findById(row.user_id);
    if (!user) throw new AppError('identity_flow_invalid', 'The account no longer exists.');
    return { provider: this.view(this.provider(row.provider)), email: user.email };
  }

  /**
   * Completes a pending link with the existing account's password (through the password
   * sign-in's throttle, attempt log and refusals), links the provider account and signs in: a
   * browser session, or for API flows a one-time code.
   * @throws AppError `identity_flow_invalid` (ticket unknown, used or expired),
   *   `invalid_credentials` (401), `rate_limited` (429) and the sign-in refusals.
   */
  async completeLinkWithPassword(ticket: string, password: string, client: ClientInfo): Promise<FlowOutcome> {
    const row = await this.liveTicket(ticket, 'link');
    const owner = await this.options.users.findById(row.user_id);
    if (!owner) throw new AppError('identity_flow_invalid', 'The account no longer exists.');
    const user = await this.options.auth.verifyPassword(owner.email, password, client);
    if (user.id !== owner.id) throw new AppError('invalid_credentials');
    const now = this.options.clock.now().toISOString();
    const consumed = await consumeTicket(this.options.db, hashToken(ticket), 'link', now);
    if (!consumed) throw new AppError('identity_flow_invalid', 'This link was already completed.');
    const provider = this.provider(consumed.provider);
    await this.link(user.id, provider, ticketProfile(consumed), { actorId: user.id, ip: client.ip, userAgent: client.userAgent }, 'password');
    const redirect = consumed.redirect_uri ?? `${this.options.appUrl}/`;
    if (consumed.mode === 'api') return { kind: 'code', code: await this.issueLoginCode(user, provider.name, consumed.code_challenge, redirect), redirect };
    // The password was just proven by verifyPassword (throttle, attempt log, refusals): finish as a password sign-in (second factor included).
    const signIn = await this.options.auth.completeSignIn(user, { flow: 'browser', method: 'password' }, client);
    return { kind: 'session', signIn, redirect };
  }

  /**
   * Sends the existing account a link that confirms the pending link by email (for accounts
   * without a password, or people who forgot it). The pending link is used up.
   * @throws AppError `identity_flow_invalid` (ticket unknown, used or expired).
   */
  async requestLinkByEmail(ticket: string): Promise<void> {
    const now = this.options.clock.now();
    await inTransaction(this.options.db, async (tx) => {
      const row = await consumeTicket(tx.db, hashToken(ticket), 'link', now.toISOString());
      if (!row) throw new AppError('identity_flow_invalid', 'This link has expired or was already used. Sign in with the provider again.');
      const user = await this.options.users.findById(row.user_id, tx.db);
      if (!user || user.status !== 'active') return;
      const token = generateToken();
      await insertTicket(tx.db, { ...row, id: newId(), purpose: 'link_email', token_hash: hashToken(token), created_at: now.toISOString(), expires_at: addSeconds(now, LINK_EMAIL_TTL_SECONDS).toISOString(), used_at: null });
      await this.options.notify.enqueue(tx, 'user.identity_link_requested', {
        user: notifyUser(user),
        provider: this.provider(row.provider).displayName,
        url: `${this.options.appUrl}/link-account?token=${encodeURIComponent(token)}`,
        ttl_minutes: Math.round(LINK_EMAIL_TTL_SECONDS / 60),
      });
    });
  }

  /**
   * Confirms a link from the emailed token: links the provider account to the account the
   * email went to (the person proved they read its mailbox). Signs nobody in.
   * @returns the provider's display name.
   * @throws AppError `invalid_token` (400) for unknown, used or expired tokens; `identity_taken` (409).
   */
  async confirmLinkByEmail(token: string, client: ClientInfo): Promise<{ provider: ProviderView }> {
    if (!looksLikeToken(token)) throw new AppError('invalid_token');
    const row = await consumeTicket(this.options.db, hashToken(token), 'link_email', this.options.clock.now().toISOString());
    if (!row) throw new AppError('invalid_token');
    const provider = this.provider(row.provider);
    await this.link(row.user_id, provider, ticketProfile(row), { actorId: row.user_id, ip: client.ip, userAgent: client.userAgent }, 'email');
    return { provider: this.view(provider) };
  }

  /** The user's linked provider accounts, oldest first. */
  async listOwn(userId: string): Promise<IdentityView[]> {
    const rows = await listIdentitiesOfUser(this.options.db, userId);
    return rows.map((row) => this.identityView(row));
  }

  /**
   * Unlinks one of the user's provider accounts.
   * @throws AppError `not_found` (not theirs), `last_sign_in_method` (409) when the account has
   *   no password and this is its only provider account: it could never sign in again.
   */
  async unlink(userId: string, identityId: string, actor: ActorContext): Promise<void> {
    await inTransaction(this.options.db, async (tx) => {
      const user = await this.options.users.findById(userId, tx.db);
      const identities = await listIdentitiesOfUser(tx.db, userId);
      const target = identities.find((i) => i.id === identityId);
      if (!user || !target) throw new AppError('not_found', 'No such linked account.');
      if (!user.password_hash && identities.length === 1) {
        throw new AppError('last_sign_in_method', 'This is the only way to sign in to the account: set a password (forgot password) or link another provider first.');
      }
      await deleteIdentityOfUser(tx.db, userId, identityId);
      await this.options.audit.record(tx.db, actor, {
        action: 'identity.unlink',
        targetType: 'user',
        targetId: userId,
        details: { provider: target.provider, identity_id: target.id },
      });
    });
  }

  private async finishSignIn(
    user: UserRow,
    provider: string,
    client: ClientInfo,
    mode: 'browser' | 'api',
    redirect: string,
    codeChallenge: string | null,
  ): Promise<FlowOutcome> {
    if (mode === 'browser') {
      const signIn = await this.options.auth.signInWithIdentity(user, client, provider, 'browser');
      return { kind: 'session', signIn, redirect };
    }
    // The refusals now, so the person sees them in the browser; the session is made at the exchange.
    await this.options.auth.assertMaySignIn(user, client, { method: 'identity', provider });
    return { kind: 'code', code: await this.issueLoginCode(user, provider, codeChallenge, redirect), redirect };
  }

  private async issueLoginCode(user: UserRow, provider: string, codeChallenge: string | null, redirect: string): Promise<string> {
    const code = generateToken();
    const now = this.options.clock.now();
    await inTransaction(this.options.db, async (tx) => {
      await deleteExpiredTickets(tx.db, addSeconds(now, -86_400).toISOString());
      await insertTicket(tx.db, {
        id: newId(),
        purpose: 'login_code',
        token_hash: hashToken(code),
        user_id: user.id,
        provider,
        subject: '',
        email: null,
        email_verified: 0,
        mode: 'api',
        code_challenge: codeChallenge,
        redirect_uri: redirect,
        created_at: now.toISOString(),
        expires_at: addSeconds(now, LOGIN_CODE_TTL_SECONDS).toISOString(),
        used_at: null,
      });
    });
    return code;
  }

  /** A verified email of an existing account: offer the link, or refuse when the email is not vouched for. */
  private async pendingLink(existing: UserRow, provider: ProviderSettings, profile: ProviderProfile, flow: FlowState): Promise<FlowOutcome> {
    if (!profile.emailVerified) {
      throw new AppError(
        'identity_email_in_use',
        `An account with this email exists, and ${provider.displayName} does not vouch for the address: sign in with your password, then link ${provider.displayName} from your account.`,
      );
    }
    const ticket = generateToken();
    const now = this.options.clock.now();
    await inTransaction(this.options.db, async (tx) => {
      await deleteExpiredTickets(tx.db, addSeconds(now, -86_400).toISOString());
      await insertTicket(tx.db, {
        id: newId(),
        purpose: 'link',
        token_hash: hashToken(ticket),
        user_id: existing.id,
        provider: provider.name,
        subject: profile.subject,
        email: profile.email,
        email_verified: 1,
        mode: flow.m,
        code_challenge: flow.cc ?? null,
        redirect_uri: flow.r,
        created_at: now.toISOString(),
        expires_at: addSeconds(now, LINK_TTL_SECONDS).toISOString(),
        used_at: null,
      });
    });
    return { kind: 'link_required', ticket, provider: this.view(provider), email: existing.email, mode: flow.m, redirect: flow.r };
  }

  /** Creates the account and its identity in one transaction; undefined when the email was taken meanwhile. */
  private async createAccount(provider: ProviderSettings, profile: ProviderProfile, actor: ActorContext): Promise<UserRow | undefined> {
    const now = this.options.clock.now().toISOString();
    try {
      return await inTransaction(this.options.db, async (tx) => {
        const user = await this.options.accounts.createWithoutPassword(
          tx,
          { email: profile.email as string, name: profile.name ?? '', emailVerified: profile.emailVerified, provider: provider.name },
          actor,
        );
        await this.insertIdentityRow(tx, user.id, provider, profile, now, now);
        return user;
      });
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  /**
   * Links a provider account to `userId` (audit entry `identity.link`, a notice by email).
   * Linking one the user already has is a no-op.
   * @throws AppError `identity_taken` when it is linked to another account.
   */
  private async link(userId: string, provider: ProviderSettings, profile: ProviderProfile, actor: ActorContext, proof: 'session' | 'password' | 'email' = 'session'): Promise<void> {
    const now = this.options.clock.now().toISOString();
    const existing = await findIdentity(this.options.db, provider.name, profile.subject);
    if (existing) {
      if (existing.user_id === userId) return;
      throw new AppError('identity_taken', `This ${provider.displayName} account is linked to another account already.`);
    }
    try {
      await inTransaction(this.options.db, async (tx) => {
        const user = await this.options.users.findById(userId, tx.db);
        if (!user) throw new AppError('not_found', 'No such user.');
        await this.insertIdentityRow(tx, userId, provider, profile, now, null);
        await this.options.audit.record(tx.db, actor, {
          action: 'identity.link',
          targetType: 'user',
          targetId: userId,
          details: { provider: provider.name, proof },
        });
        await this.options.notify.enqueue(tx, 'user.identity_linked', {
          user: notifyUser(user),
          provider: provider.displayName,
          linked_at: now,
          reset_url: `${this.options.appUrl}/forgot-password`,
        });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('identity_taken', `This ${provider.displayName} account is linked to another account already.`);
      throw error;
    }
  }

  private async insertIdentityRow(tx: Tx, userId: string, provider: ProviderSettings, profile: ProviderProfile, now: string, signedInAt: string | null): Promise<void> {
    await insertIdentity(tx.db, {
      id: newId(),
      user_id: userId,
      provider: provider.name,
      subject: profile.subject,
      email: profile.email,
      email_verified: profile.emailVerified ? 1 : 0,
      linked_at: now,
      last_sign_in_at: signedInAt,
    });
  }

  private async liveTicket(ticket: string, purpose: IdentityTicketRow['purpose']): Promise<IdentityTicketRow> {
    const row = looksLikeToken(ticket) ? await findLiveTicket(this.options.db, hashToken(ticket), purpose, this.options.clock.now().toISOString()) : undefined;
    if (!row) throw new AppError('identity_flow_invalid', 'This link has expired or was already used. Sign in with the provider again.');
    return row;
  }

  private async readFlow(cookie: string): Promise<FlowState | null> {
    const claims = await this.options.accessTokens.verifyStatement(FLOW_PURPOSE, cookie);
    if (!claims) return null;
    const { p, s, n, v, r, m, cc, l } = claims;
    if (typeof p !== 'string' || typeof s !== 'string' || typeof n !== 'string' || typeof v !== 'string' || typeof r !== 'string') return null;
    if (m !== 'browser' && m !== 'api') return null;
    return { p, s, n, v, r, m, ...(typeof cc === 'string' ? { cc } : {}), ...(typeof l === 'string' ? { l } : {}) };
  }

  /**
   * Resolves `redirect` against the pages' URL (FRONTEND_URL, else PUBLIC_URL) and checks its origin
   * (PUBLIC_URL's, FRONTEND_URL's or one of AUTH_REDIRECT_ORIGINS): an open redirect would hand the session or code to anyone.
   * @throws AppError `redirect_not_allowed`.
   */
  private allowedRedirect(redirect: string | undefined): string {
    if (!redirect) return `${this.options.appUrl}/`;
    let url: URL;
    try {
      // `//evil.example` is protocol-relative: resolved against PUBLIC_URL it leaves the origin, and is refused below.
      url = new URL(redirect, `${this.options.appUrl}/`);
    } catch {
      throw new AppError('redirect_not_allowed', 'The redirect is not a URL.');
    }
    if (!this.allowedOrigins.has(url.origin) || url.username || url.password) {
      throw new AppError('redirect_not_allowed', `The redirect must point to ${[...this.allowedOrigins].join(' or ')} (PUBLIC_URL, FRONTEND_URL and AUTH_REDIRECT_ORIGINS).`);
    }
    url.hash = '';
    return url.toString();
  }

  /** @throws AppError `not_found` when no enabled provider has this name. */
  private provider(name: string): ProviderSettings {
    const provider = this.options.config.providers.find((p) => p.name === name);
    if (!provider) throw new AppError('not_found', `No sign-in provider called ${name} is enabled.`);
    return provider;
  }

  private view(provider: ProviderSettings): ProviderView {
    return {
      name: provider.name,
      display_name: provider.displayName,
      start_url: `${this.options.publicUrl}/api/v1/auth/oauth/${provider.name}/start`,
    };
  }

  private identityView(row: IdentityRow): IdentityView {
    const provider = this.options.config.providers.find((p) => p.name === row.provider);
    return {
      id: row.id,
      provider: row.provider,
      display_name: provider?.displayName ?? row.provider,
      email: row.email,
      email_verified: row.email_verified === 1,
      linked_at: row.linked_at,
      last_sign_in_at: row.last_sign_in_at,
    };
  }
}

/** The provider account a ticket carries. */
function ticketProfile(row: IdentityTicketRow): ProviderProfile {
  return { subject: row.subject, email: row.email, emailVerified: row.email_verified === 1, name: null };
}
