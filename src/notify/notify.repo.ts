/** Queries for notifications: channel switches, admin recipients and a user's sign-in history. */
import type { Executor } from '../db/executor.js';
import type { UserRow } from '../db/schema.js';

/** The channels an operator switched, with their state (no row = enabled). */
export async function listChannelSwitches(db: Executor): Promise<Array<{ channel: string; enabled: boolean; updated_at: string }>> {
  const rows = await db.selectFrom('notify_channel').selectAll().execute();
  return rows.map((r) => ({ channel: r.channel, enabled: Number(r.enabled) === 1, updated_at: r.updated_at }));
}

/** Records an operator's switch for `channel` (insert or update). */
export async function upsertChannelSwitch(db: Executor, channel: string, enabled: boolean, nowIso: string): Promise<void> {
  await db
    .insertInto('notify_channel')
    .values({ channel, enabled: enabled ? 1 : 0, updated_at: nowIso })
    .onConflict((oc) => oc.column('channel').doUpdateSet({ enabled: enabled ? 1 : 0, updated_at: nowIso }))
    .execute();
}

/** The user `id` as notifications address them, or undefined when there is no such active user. */
export async function findNotifyUser(db: Executor, id: string): Promise<Pick<UserRow, 'id' | 'email' | 'name'> | undefined> {
  return db.selectFrom('user').select(['id', 'email', 'name']).where('id', '=', id).where('status', '=', 'active').executeTakeFirst();
}

/** Active administrators (for the `notify_admin` opt-in, read from their profile by the caller). */
export async function listActiveAdmins(db: Executor): Promise<Array<Pick<UserRow, 'email' | 'name' | 'profile'>>> {
  return db
    .selectFrom('user')
    .select(['email', 'name', 'profile'])
    .where('role', '=', 'admin')
    .where('status', '=', 'active')
    .orderBy('id')
    .execute();
}

/**
 * What the user's history says about a sign-in from (`ip`, `userAgent`): whether the user ever
 * signed in before (any session, or a successful login in the audit log), and whether this very
 * pair was seen in a session or a successful login. Null values match null (the CLI has none).
 *
 * It runs on every sign-in, so the usual case (a device that has a session) is answered by one
 * statement probing the session index twice; the audit log is read only when no session matches.
 */
export async function loginHistory(
  db: Executor,
  userId: string,
  ip: string | null,
  userAgent: string | null,
): Promise<{ hasHistory: boolean; pairSeen: boolean }> {
  // Sessions and the audit log store the address and user agent truncated (64 and 512 characters).
  const shortIp = ip?.slice(0, 64) ?? null;
  const shortAgent = userAgent?.slice(0, 512) ?? null;
  const sessions = await db
    .selectNoFrom((eb) => [
      eb
        .exists(
          eb
            .selectFrom('session')
            .select('id')
            .where('user_id', '=', userId)
            .where((w) => (shortIp === null ? w('ip', 'is', null) : w('ip', '=', shortIp)))
            .where((w) => (shortAgent === null ? w('user_agent', 'is', null) : w('user_agent', '=', shortAgent))),
        )
        .as('pair'),
      eb.exists(eb.selectFrom('session').select('id').where('user_id', '=', userId)).as('any'),
    ])
    .executeTakeFirstOrThrow();
  // SQLite answers 0/1, PostgreSQL a boolean.
  if (Number(sessions.pair) === 1) return { hasHistory: true, pairSeen: true };
  const login = db.selectFrom('audit_log').select('id').where('actor_id', '=', userId).where('action', '=', 'auth.login');
  if (Number(sessions.any) !== 1 && !(await login.limit(1).executeTakeFirst())) return { hasHistory: false, pairSeen: false };
  const sameLogin = await login
    .where((eb) => (shortIp === null ? eb('ip', 'is', null) : eb('ip', '=', shortIp)))
    .where((eb) => (shortAgent === null ? eb('user_agent', 'is', null) : eb('user_agent', '=', shortAgent)))
    .limit(1)
    .executeTakeFirst();
  return { hasHistory: true, pairSeen: sameLogin !== undefined };
}
