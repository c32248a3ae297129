/**
 * API keys: long-lived credentials for scripts and workers, sent as `Authorization: Bearer
 * gh_<prefix>_<secret>`. The secret (256 random bits) is shown once; only the SHA-256 of the
 * whole key is stored. The prefix (public, unique) lets people and logs tell keys apart.
 * A key's scopes are a subset of its owner's permissions when created, and are intersected
 * with the owner's CURRENT permissions on every use, so taking a permission away from a user
 * takes it away from their keys at once.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ActorContext, AuditLog } from '../audit/audit.service.js';
import type { UserDirectory } from '../accounts/user-directory.service.js';
import { hashToken } from '../crypto/tokens.js';
import type { ApiKeyRow, Database, UserRow } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { AuthCache } from '../sessions/auth-cache.js';
import type { AuthChanges } from '../sessions/auth-changes.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { pageOfRows } from '../shared/paging.js';
import type { AccessService } from './access.service.js';
import {
  findApiKeyByHash,
  findApiKeyById,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  revokeUserApiKeys,
  touchApiKey,
} from './api-keys.repo.js';
import type { Tx } from '../db/transaction.js';
import { isValidPermission, scopesWithin } from './permissions.js';
import type { ApiKeyView } from './access.views.js';

/** `last_used_at` is written at most this often per key (seconds). */
const LAST_USED_RESOLUTION_SECONDS = 60;
const PREFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const KEY_PATTERN = /^gh_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/;

export type { ApiKeyView };

/** Converts a row to its API view. */
export function toApiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    user_id: row.user_id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as string[],
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
  };
}

/** True when `value` has the shape of a Gatehouse API key. */
export function looksLikeApiKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

function randomPrefix(): string {
  const bytes = randomBytes(8);
  return Array.from(bytes, (b) => PREFIX_ALPHABET[b % PREFIX_ALPHABET.length]).join('');
}

/** Options for {@link ApiKeyService}. */
export interface ApiKeyServiceOptions {
  db: Kysely<Database>;
  /** The `user` rows (the accounts module's service). */
  users: UserDirectory;
  clock: Clock;
  cache: AuthCache;
  changes: AuthChanges;
  audit: AuditLog;
  access: AccessService;
}

export class ApiKeyService {
  constructor(private readonly options: ApiKeyServiceOptions) {}

  /**
   * Creates a key for `user`. `expiresInSeconds` must respect the user's group policy
   * (`api_key_max_ttl_seconds`; 0 there allows non-expiring keys). `callerPermissions` are those
   * of the credential making the request (for an API key, its narrowed grants); when given, the
   * new key's scopes must lie within them too.
   * @returns the key's view and the full secret, which is never shown again.
   * @throws AppError `validation_failed` (bad scope or lifetime), `forbidden` (a scope beyond the
   *   user's permissions or the calling credential's).
   */
  /**
   * Mints a key for a service identity (the built-in workers) as the system: no caller to narrow it.
   * @throws AppError `not_found` when the user does not exist; as {@link create} otherwise.
   */
  async createForService(userId: string, input: { name: string; scopes: string[]; expiresInSeconds?: number | undefined }, actor: ActorContext): Promise<{ key: ApiKeyView; secret: string }> {
    const user = await this.options.users.findById(userId);
    if (!user) throw new AppError('not_found', `There is no user ${userId}.`);
    return this.create(user, input, actor);
  }

  async create(
    user: UserRow,
    input: {
      name: string;
      scopes: string[];
      expiresInSeconds?: number | undefined;
      callerPermissions?: ReadonlySet<string> | undefined;
    },
    actor: ActorContext,
  ): Promise<{ key: ApiKeyView; secret: string }> {
    const bad = input.scopes.map((s, i) => ({ s, i })).filter(({ s }) => !isValidPermission(s));
    if (bad.length) {
      throw new AppError('validation_failed', 'Scopes must look like resource:action.', {
        errors: bad.map(({ i }) => ({ field: `/scopes/${i}`, message: 'must look like resource:action, resource:* or *' })),
      });
    }
    const access = await this.options.access.effectiveAccess(user);
    if (!scopesWithin(access.permissions, input.scopes)) {
      throw new AppError('forbidden', 'A key may only carry scopes you have yourself.');
    }
    // A narrowly scoped key must not mint a wider one: that would undo its scoping.
    if (input.callerPermissions && !scopesWithin(input.callerPermissions, input.scopes)) {
      throw new AppError('forbidden', 'A key may only carry scopes the credential creating it has.');
    }
    const maxTtl = access.apiKeyMaxTtlSeconds;
    if (maxTtl > 0 && (input.expiresInSeconds === undefined || input.expiresInSeconds > maxTtl)) {
      throw new AppError('validation_failed', `Your keys must expire within ${maxTtl} seconds.`, {
        errors: [{ field: '/expires_in', message: `is required and must be at most ${maxTtl}` }],
      });
    }
    const now = this.options.clock.now();
    const prefix = randomPrefix();
    const secret = `gh_${prefix}_${randomBytes(32).toString('base64url')}`;
    const row: ApiKeyRow = {
      id: newId(),
      user_id: user.id,
      name: input.name,
      prefix,
      key_hash: hashToken(secret),
      scopes: JSON.stringify([...new Set(input.scopes)]),
      created_at: now.toISOString(),
      last_used_at: null,
      expires_at: input.expiresInSeconds === undefined ? null : addSeconds(now, input.expiresInSeconds).toISOString(),
      revoked_at: null,
    };
    await inTransaction(this.options.db, async (tx) => {
      await insertApiKey(tx.db, row);
      await this.options.audit.record(tx.db, actor, {
        action: 'api_key.create',
        targetType: 'api_key',
        targetId: row.id,
        details: { user_id: user.id, name: row.name, prefix, scopes: input.scopes, expires_at: row.expires_at },
      });
    });
    return { key: toApiKeyView(row), secret };
  }

  /** A page of keys: one user's, or everyone's when `userId` is undefined. */
  async list(query: {
    userId?: string | undefined;
    includeRevoked?: boolean;
    limit: number;
    afterId?: string | undefined;
  }): Promise<{ items: ApiKeyView[]; next: string | null }> {
    const rows = await listApiKeys(this.options.db, { ...query, includeRevoked: query.includeRevoked ?? false });
    return pageOfRows(rows, query.limit, toApiKeyView);
  }

  /**
   * Revokes a key. Owners may revoke their own; `asAdmin` may revoke anyone's.
   * @throws AppError `not_found` (also for someone else's key, so ids do not leak).
   */
  async revoke(keyId: string, requester: { userId: string; asAdmin: boolean }, actor: ActorContext): Promise<void> {
    const key = await findApiKeyById(this.options.db, keyId);
    if (!key || (!requester.asAdmin && key.user_id !== requester.userId) || key.revoked_at) {
      throw new AppError('not_found', 'No such API key.');
    }
    await inTransaction(this.options.db, async (tx) => {
      await revokeApiKey(tx.db, keyId, this.options.clock.now().toISOString());
      await this.options.audit.record(tx.db, actor, {
        action: 'api_key.revoke',
        targetType: 'api_key',
        targetId: keyId,
        details: { user_id: key.user_id, prefix: key.prefix },
      });
      await this.options.changes.apiKeyChanged(tx, keyId);
    });
  }

  /**
   * Revokes every live key of `userId` inside `tx` (password reset or change); every instance's
   * cache forgets them after commit.
   * @returns how many keys were revoked.
   */
  async revokeAllOfUserInTx(tx: Tx, userId: string): Promise<number> {
    const ids = await revokeUserApiKeys(tx.db, userId, this.options.clock.now().toISOString());
    for (const id of ids) await this.options.changes.apiKeyChanged(tx, id);
    return ids.length;
  }

  /**
   * Resolves a presented key to its live row and active, unbanned owner, or `null`.
   * Expired, revoked and unknown keys are all `null`.
   */
  async authenticate(presented: string): Promise<{ key: ApiKeyRow; user: UserRow } | null> {
    if (!looksLikeApiKey(presented)) return null;
    const keyHash = hashToken(presented);
    let key = this.options.cache.apiKeyByHash(keyHash);
    if (!key) {
      key = await findApiKeyByHash(this.options.db, keyHash);
      if (!key) return null;
      this.options.cache.rememberApiKey(key);
    }
    const now = this.options.clock.now();
    if (key.revoked_at || (key.expires_at && Date.parse(key.expires_at) <= now.getTime())) return null;
    let user = this.options.cache.user(key.user_id);
    if (!user) {
      user = await this.options.users.findById(key.user_id);
      if (!user) return null;
      this.options.cache.rememberUser(user);
    }
    if (user.status !== 'active') return null;
    if (user.banned_until && Date.parse(user.banned_until) > now.getTime()) return null;
    if (!key.last_used_at || now.getTime() - Date.parse(key.last_used_at) > LAST_USED_RESOLUTION_SECONDS * 1000) {
      await touchApiKey(this.options.db, key.id, now.toISOString());
      key = Object.assign({}, key, { last_used_at: now.toISOString() });
      this.options.cache.rememberApiKey(key);
    }
    return { key, user };
  }

  /**
   * Whether an API key is still usable, read from the database (the cache is skipped: this is
   * the check behind long-lived streams): it exists, is neither revoked nor expired, and its
   * owner is active and not banned. Never touches `last_used_at`.
   */
  async isLive(keyId: string): Promise<boolean> {
    const key = await findApiKeyById(this.options.db, keyId);
    const now = this.options.clock.now().getTime();
    if (!key || key.revoked_at || (key.expires_at && Date.parse(key.expires_at) <= now)) return false;
    const user = await this.options.users.findById(key.user_id);
    return !!user && user.status === 'active' && !(user.banned_until && Date.parse(user.banned_until) > now);
  }
}
