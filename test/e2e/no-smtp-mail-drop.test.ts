/**
 * Without SMTP_URL, every email is written as an `.eml` file under `DATA_DIR/mail/` and its link
 * is logged, so that a newcomer can click it; the link's token really verifies the account.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, describe, expect, it } from 'vitest';
import { dialects } from '../helpers/dialects.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/harness.js';
import { http } from '../helpers/http-client.js';
import { freePort, killAllChildren, serverEnv, type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe.each(dialects)('mail drop without SMTP_URL (%s)', (dialect) => {
  let database: TestDatabase;
  let server: ServerProcess | undefined;

  afterAll(async () => {
    try {
      if (server) expect(await server.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await killAllChildren();
      await database?.drop();
    }
  });

  it('writes the verification email as an .eml file, logs its link, and the link verifies the account', async () => {
    database = await createTestDatabase(dialect);
    const port = await freePort();
    const env = serverEnv({ port, dataDir: database.dataDir, databaseUrl: database.url });
    expect(env.SMTP_URL).toBeUndefined();
    server = await startServerProcess({ env });
    const running = server;
    expect(running.output()).toContain('SMTP_URL is not set');

    const email = uniqueEmail('maildrop');
    const registered = await http(running.url, '/api/v1/auth/register', { json: { email, password: STRONG_PASSWORD, name: 'Newcomer' } });
    expect(registered.status).toBe(202);

    // The log line names the file and carries the clickable link.
    const logged = await running.waitForLog((line) => line.template === 'verify_email' && line.to === email, 10_000);
    const links = logged.links as string[];
    expect(links).toHaveLength(1);
    const link = links[0] ?? '';
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/verify-email\\?token=[A-Za-z0-9_-]{22,}$`));
    expect(running.output()).toContain(link);

    // The .eml file is under DATA_DIR/mail/ and is a well-formed email carrying the same link.
    const mailDir = path.join(database.dataDir, 'mail');
    const files = readdirSync(mailDir).filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(1);
    const file = path.join(mailDir, files[0] ?? '');
    expect(logged.file).toBe(file);
    const parsed = await simpleParser(readFileSync(file));
    expect(parsed.subject).toMatch(/confirm your email/i);
    const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
    expect(to?.value[0]?.address).toBe(email);
    expect(parsed.text).toContain(link);
    expect(typeof parsed.html === 'string' ? parsed.html : '').toContain(link);

    // Clicking the link opens the page; the page's POST with the token verifies the account.
    const token = new URL(link).searchParams.get('token') ?? '';
    expect((await http(running.url, '/api/v1/auth/login', { json: { email, password: STRONG_PASSWORD }, origin: running.url })).status).toBe(403);
    const page = await http(running.url, `/verify-email?token=${encodeURIComponent(token)}`);
    expect(page.status).toBe(200);
    expect((await http(running.url, '/api/v1/auth/verify-email', { json: { token } })).status).toBe(204);
    const login = await http(running.url, '/api/v1/auth/login', { json: { email, password: STRONG_PASSWORD }, origin: running.url });
    expect(login.status).toBe(200);
    expect(login.json.user).toMatchObject({ email, email_verified: true });
  });
});
