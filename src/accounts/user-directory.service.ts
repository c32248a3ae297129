/**
 * The accounts module's service over the `user` row, for the features that resolve a credential
 * to its user (sessions, API keys, sign-in, passkeys, linked identities), check a role or a ban
 * (access) or administer accounts (`access/user-admin`). Only the accounts module imports
 * `users.repo.js`; everyone else comes through here.
 *
 * It depends on nothing but the database, so the services that `AccountService` itself
 * depends on (sessions, API keys) can use it without a construction cycle. Every method takes an
 * optional `executor`: pass `tx.db` to read or write inside the caller's transaction (a ban, a
 * deletion, enabling MFA); the default is the service's own database handle.
 */
import type { Kysely } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Database, NewUserRow, UserRow, UserUpdate } from '../db/schema.js';
import { deleteUser, findUserByEmail, findUserById, insertUser, listUsers, updateUser, type UserListQuery } from './users.repo.js';

export type { UserListQuery } from './users.repo.js';

/** Reads and writes `user` rows on behalf of other features. */
export class UserDirectory {
  constructor(private readonly db: Kysely<Database>) {}

  /** The user with this id, or undefined. */
  findById(id: string, executor: Executor = this.db): Promise<UserRow | undefined> {
    return findUserById(executor, id);
  }

  /** The user with this email (compared normalised, case-insensitive), or undefined. */
  findByEmail(email: string, executor: Executor = this.db): Promise<UserRow | undefined> {
    return findUserByEmail(executor, email);
  }

  /** Applies `changes` to one user; returns the new row, or undefined when it does not exist. */
  update(id: string, changes: UserUpdate, executor: Executor = this.db): Promise<UserRow | undefined> {
    return updateUser(executor, id, changes);
  }

  /** Inserts a user. @throws the driver's unique violation when the email is taken. */
  insert(row: NewUserRow, executor: Executor = this.db): Promise<UserRow> {
    return insertUser(executor, row);
  }

  /** Deletes a user; sessions, tokens, keys and memberships cascade. @returns true when it existed. */
  delete(id: string, executor: Executor = this.db): Promise<boolean> {
    return deleteUser(executor, id);
  }

  /** One page of users in creation order, `limit + 1` rows so the caller can tell if more exist. */
  list(query: UserListQuery, executor: Executor = this.db): Promise<UserRow[]> {
    return listUsers(executor, query);
  }
}
