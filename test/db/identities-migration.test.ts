/**
 * Migration 0010-identities on a database with data, on both dialects: users, their sessions,
 * API keys and group memberships survive (SQLite rebuilds the `user` table with foreign keys off,
 * so nothing cascades), `password_hash` accepts null afterwards, the email stays unique, and
 * deleting a user still cascades to its sessions and identities.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrateTo, migrateToLatest } from '../../src/db/migrate.js';
import { dialects } from '../helpers/dialects.js';
import { useUnmigratedDatabase } from '../helpers/unmigrated-database.js';

describe.each(dialects)('migration 0010-identities (%s)', (dialect) => {
  const scratch = useUnmigratedDatabase(dialect);
  const now = new Date('2026-01-02T03:04:05.000Z').toISOString();
  const user = (id: string, email: string, hash: string | null) => ({
    id,
    email,
    email_normalized: email,
    password_hash: hash,
    name: 'N',
    profile: '{}',
    role: 'user',
    status: 'active',
    email_verified_at: now,
    created_at: now,
    updated_at: now,
  });

  it('keeps every user and what hangs off it, and makes password_hash nullable', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tables as migration 0009 left them, not today's types
    const db = scratch.handle.db as unknown as import('kysely').Kysely<any>;
    await migrateTo(scratch.handle.db, dialect, '0009-topic-events');
    await db.insertInto('user').values(user('00000000-0000-7000-8000-000000000001', 'a@example.com', '$argon2id$v=19$m=19456,t=2,p=1$x$y')).execute();
    await db
      .insertInto('session')
      .values({ id: 's1', user_id: '00000000-0000-7000-8000-000000000001', kind: 'browser', token_hash: 'h1', created_at: now, last_seen_at: now, expires_at: now })
      .execute();
    await db.insertInto('group').values({ id: 'g1', name: 'team', description: '', permissions: '[]', created_at: now, updated_at: now }).execute();
    await db.insertInto('user_group').values({ user_id: '00000000-0000-7000-8000-000000000001', group_id: 'g1', created_at: now }).execute();

    await migrateToLatest(scratch.handle.db, dialect);

    expect(await db.selectFrom('user').select(['id', 'password_hash', 'banned_until']).execute()).toEqual([
      { id: '00000000-0000-7000-8000-000000000001', password_hash: '$argon2id$v=19$m=19456,t=2,p=1$x$y', banned_until: null },
    ]);
    expect(await db.selectFrom('session').select('id').execute()).toEqual([{ id: 's1' }]);
    expect(await db.selectFrom('user_group').select('group_id').execute()).toEqual([{ group_id: 'g1' }]);

    await db.insertInto('user').values(user('00000000-0000-7000-8000-000000000002', 'b@example.com', null)).execute();
    await expect(db.insertInto('user').values(user('00000000-0000-7000-8000-000000000003', 'b@example.com', null)).execute()).rejects.toThrow();
    await db
      .insertInto('identity')
      .values({ id: 'i1', user_id: '00000000-0000-7000-8000-000000000001', provider: 'google', subject: '1', email: null, email_verified: 0, linked_at: now, last_sign_in_at: null })
      .execute();
    await expect(
      db.insertInto('identity').values({ id: 'i2', user_id: '00000000-0000-7000-8000-000000000002', provider: 'google', subject: '1', email: null, email_verified: 0, linked_at: now, last_sign_in_at: null }).execute(),
    ).rejects.toThrow();

    await db.deleteFrom('user').where('id', '=', '00000000-0000-7000-8000-000000000001').execute();
    expect(await db.selectFrom('session').select('id').execute()).toEqual([]);
    expect(await db.selectFrom('identity').select('id').execute()).toEqual([]);
    expect(await db.selectFrom('user_group').select('group_id').execute()).toEqual([]);
    if (dialect === 'sqlite') {
      expect((await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db)).rows[0]?.foreign_keys).toBe(1);
    }
  });
});
