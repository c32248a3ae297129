/**
 * Queries for the `user` table, imported only by the accounts module. Other features (sessions,
 * API keys, sign-in, access control, administration) reach the `user` row through
 * `UserDirectory` (`user-directory.service.ts`), whose methods take the caller's transaction; the
 * domain rules about users (registration, verification, bans, deletion) stay in the services.
 */
import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { NewUserRow, UserRow, UserUpdate } from '../db/schema.js';
import { normalizeEmail } from './email.js';

/** Inserts a user. @throws the driver's unique violation when the email is taken. */
export async function insertUser(db: Executor, row: NewUserRow): Promise<UserRow> {
  return db.insertInto('user').values(row).returningAll().executeTakeFirstOrThrow();
}

/** The user with this id, or undefined. */
export async function findUserById(db: Executor, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('user').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The user with this email (case-insensitive), or undefined. */
export async function findUserByEmail(db: Executor, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('user').selectAll().where('email_normalized', '=', normalizeEmail(email)).executeTakeFirst();
}

/** Applies `changes` to one user and returns the new row, or undefined when it does not exist. */
export async function updateUser(db: Executor, id: string, changes: UserUpdate): Promise<UserRow | undefined> {
  return db.updateTable('user').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Filters for {@link listUsers}; all optional except `limit`. */
export interface UserListQuery {
  /** Page size (already clamped by the caller). */
  limit: number;
  /** Return users whose id sorts after this one (ids are time-ordered UUIDv7). */
  afterId?: string | undefined;
  /** Case-insensitive substring of the email or the name. */
  q?: string | undefined;
  role?: UserRow['role'] | undefined;
  status?: UserRow['status'] | undefined;
  /** Only members of the group with this id. */
  groupId?: string | undefined;
  verified?: boolean | undefined;
  /** `true`: banned at `nowIso`; `false`: not banned at `nowIso`. */
  banned?: boolean | undefined;
  /** The caller's clock time (ISO-8601), against which `banned` is judged. */
  nowIso: string;
}

/** Escapes LIKE wildcards so user input matches literally (with `escape '\\'`). */
function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** One page of users in creation order; fetches `limit + 1` rows so the caller can tell if more exist. */
export async function listUsers(db: Executor, query: UserListQuery): Promise<UserRow[]> {
  let q = db.selectFrom('user').selectAll('user').orderBy('user.id', 'asc').limit(query.limit + 1);
  if (query.afterId) q = q.where('user.id', '>', query.afterId);
  if (query.q) {
    const pattern = likePattern(query.q);
    q = q.where((eb) =>
      eb.or([
        eb(sql`"user"."email_normalized"`, 'like', sql`${pattern} escape '\\'`),
        eb(sql`lower("user"."name")`, 'like', sql`${pattern} escape '\\'`),
      ]),
    );
  }
  if (query.role) q = q.where('user.role', '=', query.role);
  if (query.status) q = q.where('user.status', '=', query.status);
  if (query.verified !== undefined) {
    q = q.where('user.email_verified_at', query.verified ? 'is not' : 'is', null);
  }
  if (query.banned !== undefined) {
    const now = query.nowIso;
    q = query.banned
      ? q.where('user.banned_until', '>', now)
      : q.where((eb) => eb.or([eb('user.banned_until', 'is', null), eb('user.banned_until', '<=', now)]));
  }
  if (query.groupId) {
    const groupId = query.groupId;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('user_group')
          .select('user_group.user_id')
          .whereRef('user_group.user_id', '=', 'user.id')
          .where('user_group.group_id', '=', groupId),
      ),
    );
  }
  return q.execute();
}

/** Deletes a user; sessions, tokens, keys and memberships cascade. @returns true when it existed. */
export async function deleteUser(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom('user').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
