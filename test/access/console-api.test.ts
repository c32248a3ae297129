/**
 * The APIs the admin dashboard reads besides the existing ones: `GET /users/me/permissions`
 * (role + groups, narrowed by an API key's scopes), `GET /scheduled-tasks` and
 * `POST /scheduled-tasks/{name}/run`, `GET /outbox` (cursor pages, status filter, never a body)
 * and `POST /outbox/{id}/retry` (both recorded in the audit log). Both dialects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { createTestContext, makeApiKey, type TestContext } from '../helpers/harness.js';
import { expectProblem } from '../helpers/http-assertions.js';
import { ACCESS_ENV, call, type Headers, makeGroup, makePrincipals, type Principals, setMember, uniqueName } from './access-fixtures.js';

describe.each(dialects)('dashboard APIs (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: Principals;
  let user: Principals;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { env: ACCESS_ENV });
    admin = await makePrincipals(ctx, { role: 'admin' });
    user = await makePrincipals(ctx, { role: 'user' });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('GET /users/me/permissions: role grants, group grants, narrowed by API key scopes', async () => {
    const mine = async (headers: Headers) => {
      const res = await call(ctx, 'GET', '/api/v1/users/me/permissions', headers);
      expect(res.statusCode, res.body).toBe(200);
      return res.json<{ role: string; groups: string[]; permissions: string[] }>();
    };
    expect(await mine(admin.cookie)).toEqual({ role: 'admin', groups: [], permissions: ['*'] });
    const plain = await mine(user.cookie);
    expect(plain.role).toBe('user');
    expect(plain.permissions).toContain('jobs:enqueue');
    expect(plain.permissions).not.toContain('audit:read');
    expect(plain.permissions).toEqual([...plain.permissions].sort());

    const group = await makeGroup(ctx, admin.cookie, { name: uniqueName('auditors'), permissions: ['audit:read'] });
    await setMember(ctx, admin.cookie, group.name, user.user.id, true);
    const withGroup = await mine(user.cookie);
    expect(withGroup.groups).toEqual([group.name]);
    expect(withGroup.permissions).toContain('audit:read');

    const key = await makeApiKey(ctx, user.cookie, { scopes: ['account:self'] });
    expect((await mine(key.headers)).permissions).toEqual(['account:self']);

    expect((await call(ctx, 'GET', '/api/v1/users/me/permissions')).statusCode).toBe(401);
  });

  it('scheduled tasks: list with next run, run now, 404 and 403', async () => {
    const list = await call(ctx, 'GET', '/api/v1/scheduled-tasks', admin.cookie);
    expect(list.statusCode, list.body).toBe(200);
    const tasks = list.json<{ items: Array<{ task: string; schedule: string; next_run_at: string | null; last_outcome: string | null }> }>().items;
    const purge = tasks.find((t) => t.task === 'purge-tokens');
    expect(purge).toMatchObject({ last_outcome: null });
    expect(purge?.schedule).not.toBe('');

    const run = await call(ctx, 'POST', '/api/v1/scheduled-tasks/purge-tokens/run', admin.cookie);
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toMatchObject({ task: 'purge-tokens', trigger: 'manual', outcome: 'success' });
    const after = (await call(ctx, 'GET', '/api/v1/scheduled-tasks', admin.cookie)).json<{ items: Array<{ task: string; last_outcome: string | null; last_run_at: string | null }> }>();
    expect(after.items.find((t) => t.task === 'purge-tokens')).toMatchObject({ last_outcome: 'success', last_run_at: ctx.clock.now().toISOString() });

    const audit = (await call(ctx, 'GET', '/api/v1/audit?action=scheduled_task.run', admin.cookie)).json<{ items: Array<Record<string, unknown>> }>().items;
    expect(audit[0]).toMatchObject({ actor_id: admin.user.id, target_type: 'scheduled_task', target_id: 'purge-tokens', details: { outcome: 'success', run_id: run.json().id } });
    await expectProblem(await call(ctx, 'POST', '/api/v1/scheduled-tasks/make-coffee/run', admin.cookie), 404, 'not_found');
    await expectProblem(await call(ctx, 'GET', '/api/v1/scheduled-tasks', user.cookie), 403, 'forbidden');
    await expectProblem(await call(ctx, 'POST', '/api/v1/scheduled-tasks/purge-tokens/run', user.cookie), 403, 'forbidden');
  });

  it('outbox: pages newest first without bodies, filters by status, retries unsent, 409 for sent', async () => {
    const outbox = ctx.gatehouse.outbox;
    const db = ctx.gatehouse.database.db;
    // No Mattermost transport is configured: these stay pending.
    const pending: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      pending.push(await outbox.enqueueMessage(db, { channel: 'mattermost', recipient: 'ops', subject: `note ${i}`, body: JSON.stringify({ text: 'secret-body' }), template: 'test.note' }));
    }
    const emailId = await outbox.enqueueMessage(db, { channel: 'email', recipient: 'someone@example.com', subject: 'hello', body: JSON.stringify({ text: 'token-123', html: '' }), template: 'test.mail' });
    await ctx.flushMail();
    expect((await outbox.get(emailId))?.status).toBe('sent');

    const first = await call(ctx, 'GET', '/api/v1/outbox?status=pending&limit=2', admin.cookie);
    expect(first.statusCode, first.body).toBe(200);
    const page1 = first.json<{ items: Array<Record<string, unknown>>; next_cursor: string | null }>();
    expect(page1.items.map((m) => m.id)).toEqual([pending[2], pending[1]]);
    expect(first.body).not.toContain('secret-body');
    expect(page1.items[0]).not.toHaveProperty('body');
    expect(page1.next_cursor).not.toBeNull();
    const second = (await call(ctx, 'GET', `/api/v1/outbox?status=pending&limit=2&cursor=${page1.next_cursor}`, admin.cookie)).json<{ items: Array<{ id: string }>; next_cursor: string | null }>();
    expect(second.items.map((m) => m.id)).toEqual([pending[0]]);
    expect(second.next_cursor).toBeNull();
    const sent = (await call(ctx, 'GET', '/api/v1/outbox?status=sent', admin.cookie)).json<{ items: Array<{ id: string; status: string }> }>();
    expect(sent.items.map((m) => m.id)).toContain(emailId);
    expect(sent.items.every((m) => m.status === 'sent')).toBe(true);

    ctx.clock.advance(60);
    const retried = await call(ctx, 'POST', `/api/v1/outbox/${pending[0]}/retry`, admin.cookie);
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json()).toMatchObject({ id: pending[0], status: 'pending', attempts: 0, next_attempt_at: ctx.clock.now().toISOString() });
    const audit = (await call(ctx, 'GET', '/api/v1/audit?action=outbox.retry', admin.cookie)).json<{ items: Array<Record<string, unknown>> }>().items;
    expect(audit[0]).toMatchObject({ actor_id: admin.user.id, target_type: 'outbox_message', target_id: pending[0], details: { channel: 'mattermost', template: 'test.note' } });
    await expectProblem(await call(ctx, 'POST', `/api/v1/outbox/${emailId}/retry`, admin.cookie), 409, 'conflict');
    await expectProblem(await call(ctx, 'POST', '/api/v1/outbox/0190a0a0-0000-7000-8000-000000000000/retry', admin.cookie), 404, 'not_found');
    await expectProblem(await call(ctx, 'GET', '/api/v1/outbox', user.cookie), 403, 'forbidden');
    await expectProblem(await call(ctx, 'GET', '/api/v1/outbox?status=lost', admin.cookie), 400, 'validation_failed');
  });
});
