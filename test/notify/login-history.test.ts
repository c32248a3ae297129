/**
 * `loginHistory` (notify.repo.ts), which decides the new-device notice on every sign-in, as a
 * scenario table on both dialects: what counts as history (a session, or a successful login in the
 * audit log), what counts as the same device (the same IP and user agent, null matching null, in a
 * session or a successful login), and what does not (other audit actions, other users' rows).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/shared/ids.js';
import { loginHistory } from '../../src/notify/notify.repo.js';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, makeUser, type TestContext } from '../helpers/harness.js';

const IP = '203.0.113.7';
const AGENT = 'Mozilla/5.0 KnownBrowser/1.0';

/** A row of the user's past: a session or an audit entry, from a device. */
type Past =
  | { kind: 'session'; ip: string | null; agent: string | null }
  | { kind: 'audit'; action: 'auth.login' | 'auth.login_failed' | 'user.update'; ip: string | null; agent: string | null };

interface Scenario {
  name: string;
  past: Past[];
  /** Rows of ANOTHER user from the device signing in (must not count). */
  othersPast?: Past[];
  device: { ip: string | null; agent: string | null };
  expected: { hasHistory: boolean; pairSeen: boolean };
}

const device = { ip: IP, agent: AGENT };
const SCENARIOS: Scenario[] = [
  { name: 'first sign-in ever', past: [], device, expected: { hasHistory: false, pairSeen: false } },
  { name: 'a session from this device', past: [{ kind: 'session', ...device }], device, expected: { hasHistory: true, pairSeen: true } },
  {
    name: 'sessions only from other devices',
    past: [{ kind: 'session', ip: IP, agent: 'Other/2.0' }, { kind: 'session', ip: '198.51.100.1', agent: AGENT }],
    device,
    expected: { hasHistory: true, pairSeen: false },
  },
  {
    name: 'a session elsewhere, a successful login from this device in the audit log',
    past: [{ kind: 'session', ip: '198.51.100.1', agent: null }, { kind: 'audit', action: 'auth.login', ...device }],
    device,
    expected: { hasHistory: true, pairSeen: true },
  },
  { name: 'no session left, a login from this device in the audit log', past: [{ kind: 'audit', action: 'auth.login', ...device }], device, expected: { hasHistory: true, pairSeen: true } },
  {
    name: 'no session left, a login from another device in the audit log',
    past: [{ kind: 'audit', action: 'auth.login', ip: IP, agent: 'Other/2.0' }],
    device,
    expected: { hasHistory: true, pairSeen: false },
  },
  {
    name: 'failed logins and other actions from this device are not history',
    past: [{ kind: 'audit', action: 'auth.login_failed', ...device }, { kind: 'audit', action: 'user.update', ...device }],
    device,
    expected: { hasHistory: false, pairSeen: false },
  },
  {
    name: "another user's session from this device is not this user's history",
    past: [],
    othersPast: [{ kind: 'session', ...device }, { kind: 'audit', action: 'auth.login', ...device }],
    device,
    expected: { hasHistory: false, pairSeen: false },
  },
  { name: 'no IP and no user agent (CLI): null matches null', past: [{ kind: 'session', ip: null, agent: null }], device: { ip: null, agent: null }, expected: { hasHistory: true, pairSeen: true } },
  {
    name: 'null does not match a value',
    past: [{ kind: 'session', ip: IP, agent: null }, { kind: 'audit', action: 'auth.login', ip: null, agent: AGENT }],
    device,
    expected: { hasHistory: true, pairSeen: false },
  },
  {
    name: 'stored values are truncated (64 / 512 characters): a long user agent still matches',
    past: [{ kind: 'session', ip: IP, agent: 'A'.repeat(512) }],
    device: { ip: IP, agent: 'A'.repeat(600) },
    expected: { hasHistory: true, pairSeen: true },
  },
];

describe.each(dialects)('sign-in history for the new-device notice (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  async function record(userId: string, past: Past): Promise<void> {
    const now = ctx.clock.now().toISOString();
    const db = ctx.gatehouse.database.db;
    if (past.kind === 'session') {
      await db
        .insertInto('session')
        .values({
          id: newId(),
          user_id: userId,
          kind: 'browser',
          token_hash: newId(),
          created_at: now,
          last_seen_at: now,
          expires_at: new Date(Date.parse(now) + 3600_000).toISOString(),
          revoked_at: null,
          revoke_reason: null,
          ip: past.ip,
          user_agent: past.agent?.slice(0, 512) ?? null,
          ttl_seconds: null,
        })
        .execute();
      return;
    }
    await ctx.gatehouse.audit.record(db, { actorId: userId, ip: past.ip, userAgent: past.agent }, { action: past.action, targetType: 'user', targetId: userId });
  }

  it.each(SCENARIOS)('$name', async (scenario) => {
    const user = await makeUser(ctx);
    const other = await makeUser(ctx);
    for (const past of scenario.past) await record(user.id, past);
    for (const past of scenario.othersPast ?? []) await record(other.id, past);
    expect(await loginHistory(ctx.gatehouse.database.db, user.id, scenario.device.ip, scenario.device.agent)).toEqual(scenario.expected);
  });
});
