/** Queries for the `api_key` table. Lookups are by unique indexes (hash, id). */
import type { Executor } from '../db/executor.js';
import type { ApiKeyRow, ApiKeyTable } from '../db/schema.js';

/** Inserts a key. */
export async function insertApiKey(db: Executor, row: ApiKeyTable): Promise<void> {
  await db.insertInto('api_key').values(row).execute();
}

/** The key whose full secret hashes to `keyHash`, revoked or not. */
export async function findApiKeyByHash(db: Executor, keyHash: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_key').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
}

/** The key with this id. */
export async function findApiKeyById(db: Executor, id: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_key').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Filters for {@link listApiKeys}. */
export interface ApiKeyQuery {
  userId?: string | undefined;
  /** Include revoked keys. */
  includeRevoked: boolean;
  afterId?: string | undefined;
  limit: number;
}

/** A page of keys in creation order. */
export async function listApiKeys(db: Executor, query: ApiKeyQuery): Promise<ApiKeyRow[]> {
  let q = db.selectFrom('api_key').selectAll().orderBy('id').limit(query.limit + 1);
  if (query.userId) q = q.where('user_id', '=', query.userId);
  if (!query.includeRevoked) q = q.where('revoked_at', 'is', null);
  if (query.afterId) q = q.where('id', '>', query.afterId);
  return q.execute();
}

/** Revokes one key. @returns true when it was live. */
export async function revokeApiKey(db: Executor, id: string, nowIso: string): Promise<boolean> {
  const result = await db
    .updateTable('api_key')
    .set({ revoked_at: nowIso })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Revokes every live key of a user. @returns the ids revoked. */
export async function revokeUserApiKeys(db: Executor, userId: string, nowIso: string): Promise<string[]> {
  const rows = await db
    .updateTable('api_key')
    .set({ revoked_at: nowIso })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** Records use (throttled by the caller). */
export async function touchApiKey(db: Executor, id: string, nowIso: string): Promise<void> {
  await db.updateTable('api_key').set({ last_used_at: nowIso }).where('id', '=', id).execute();
}
