/** Queries for the `user` table. */
import type { Executor } from '../db/executor.js';
import type { NewUserRow, UserRow, UserUpdate } from '../db/schema.js';

/** Lower-cases and trims an email: the form the unique index is on. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

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

/** Filters for {@link listUsers}. */
export interface UserListQuery {
  /** Page size (already clamped by the caller). */
  limit: number;
  /** Return users whose id sorts after this one (ids are time-ordered UUIDv7). */
  afterId?: string | undefined;
}

/** One page of users in creation order; fetches `limit + 1` rows so the caller can tell if more exist. */
export async function listUsers(db: Executor, query: UserListQuery): Promise<UserRow[]> {
  let q = db.selectFrom('user').selectAll().orderBy('id', 'asc').limit(query.limit + 1);
  if (query.afterId) q = q.where('id', '>', query.afterId);
  return q.execute();
}
