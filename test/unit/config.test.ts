/** Unit tests for `src/config.ts`: defaults (as the README documents them), parsing and errors. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, withDotenv } from '../../src/config.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  const config = loadConfig({});

  it('serves on 127.0.0.1:3000 as http://localhost:3000', () => {
    expect(config.server).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'http://localhost:3000',
      publicOrigin: 'http://localhost:3000',
      siteUrl: null,
      trustProxy: false,
      bodyLimitBytes: 262_144,
      logLevel: 'info',
    });
  });

  it('follows PORT with PUBLIC_URL unless PUBLIC_URL is set (an ephemeral port 0 keeps :3000)', () => {
    expect(loadConfig({ PORT: '3999' }).server).toMatchObject({ publicUrl: 'http://localhost:3999', publicOrigin: 'http://localhost:3999' });
    expect(loadConfig({ PORT: '0' }).server.publicUrl).toBe('http://localhost:3000');
    expect(loadConfig({ PORT: '3999', PUBLIC_URL: 'https://auth.example.org' }).server.publicOrigin).toBe('https://auth.example.org');
  });

  it('keeps data in ./data with the SQLite file DATA_DIR/gatehouse.db', () => {
    expect(config.dataDir).toBe(path.resolve('data'));
    expect(config.database).toEqual({ dialect: 'sqlite', url: path.join(path.resolve('data'), 'gatehouse.db'), poolSize: 10, preparedStatements: true });
  });

  it('has the documented auth defaults', () => {
    expect(config.auth).toMatchObject({
      requireEmailVerification: true,
      sessionTtlSeconds: 30 * 24 * 3600,
      accessTokenTtlSeconds: 900,
      verifyTokenTtlSeconds: 86_400,
      resetTokenTtlSeconds: 3600,
      cookieName: 'gh_session',
      cookieSecure: false,
      passwordMinScore: 3,
      argon2: { memoryKib: 19_456, iterations: 2, parallelism: 1 },
    });
  });

  it('writes mail to files when SMTP_URL is unset', () => {
    expect(config.mail).toEqual({ smtpUrl: null, from: 'Gatehouse <no-reply@localhost>', maxAttempts: 12, pollSeconds: 5 });
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', HOST: '', DATABASE_URL: '' }).server.port).toBe(3000);
    expect(loadConfig({ DATABASE_URL: '' }).database.dialect).toBe('sqlite');
  });
});

describe('loadConfig parsing', () => {
  it('reads every section from the environment', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      PUBLIC_URL: 'https://auth.example.org/',
      SITE_URL: 'https://example.org',
      TRUST_PROXY: '1',
      BODY_LIMIT_BYTES: '1024',
      LOG_LEVEL: 'debug',
      DATA_DIR: '/var/lib/gatehouse',
      AUTH_REQUIRE_EMAIL_VERIFICATION: 'false',
      AUTH_SESSION_TTL_SECONDS: '600',
      AUTH_ACCESS_TOKEN_TTL_SECONDS: '60',
      AUTH_COOKIE_NAME: '__Host-session',
      AUTH_PASSWORD_MIN_SCORE: '4',
      SMTP_URL: 'smtps://user:secret@mail.example.org:465',
      MAIL_FROM: 'Team <team@example.org>',
    });
    expect(config.server).toMatchObject({ port: 8080, host: '0.0.0.0', publicUrl: 'https://auth.example.org', publicOrigin: 'https://auth.example.org', siteUrl: 'https://example.org', trustProxy: 1, bodyLimitBytes: 1024, logLevel: 'debug' });
    expect(config.dataDir).toBe('/var/lib/gatehouse');
    expect(config.database.url).toBe('/var/lib/gatehouse/gatehouse.db');
    expect(config.auth).toMatchObject({ requireEmailVerification: false, sessionTtlSeconds: 600, accessTokenTtlSeconds: 60, cookieName: '__Host-session', cookieSecure: true, passwordMinScore: 4 });
    expect(config.mail).toMatchObject({ smtpUrl: 'smtps://user:secret@mail.example.org:465', from: 'Team <team@example.org>' });
  });

  it.each([
    ['postgres://u:p@db:5432/gh', 'postgres', 'postgres://u:p@db:5432/gh'],
    ['postgresql://db/gh', 'postgres', 'postgresql://db/gh'],
    ['sqlite:/tmp/gh.db', 'sqlite', '/tmp/gh.db'],
    ['sqlite:relative/gh.db', 'sqlite', path.resolve('relative/gh.db')],
    ['sqlite://tmp-relative.db', 'sqlite', path.resolve('tmp-relative.db')],
    ['file:/tmp/f.db', 'sqlite', '/tmp/f.db'],
    ['sqlite::memory:', 'sqlite', ':memory:'],
    ['./bare.db', 'sqlite', path.resolve('bare.db')],
  ])('DATABASE_URL=%s selects %s at %s', (url, dialect, target) => {
    expect(loadConfig({ DATABASE_URL: url }).database).toMatchObject({ dialect, url: target });
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
    ['10.0.0.0/8,127.0.0.1', '10.0.0.0/8,127.0.0.1'],
  ])('TRUST_PROXY=%s → %j', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).server.trustProxy).toEqual(expected);
  });

  it.each([
    ['1', true],
    ['yes', true],
    ['on', true],
    ['0', false],
    ['no', false],
    ['off', false],
  ])('AUTH_REQUIRE_EMAIL_VERIFICATION=%s → %s', (value, expected) => {
    expect(loadConfig({ AUTH_REQUIRE_EMAIL_VERIFICATION: value }).auth.requireEmailVerification).toBe(expected);
  });
});

describe('loadConfig errors', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PUBLIC_URL', 'not a url'],
    ['PUBLIC_URL', 'ftp://example.org'],
    ['SITE_URL', 'example.org'],
    ['BODY_LIMIT_BYTES', '0'],
    ['BODY_LIMIT_BYTES', '1.5'],
    ['LOG_LEVEL', 'verbose'],
    ['AUTH_REQUIRE_EMAIL_VERIFICATION', 'maybe'],
    ['AUTH_SESSION_TTL_SECONDS', 'forever'],
    ['AUTH_ACCESS_TOKEN_TTL_SECONDS', '999999'],
    ['AUTH_COOKIE_NAME', 'bad name;'],
    ['AUTH_PASSWORD_MIN_SCORE', '5'],
    ['ARGON2_MEMORY_KIB', '0'],
    ['SMTP_URL', 'http://mail.example.org'],
    ['MAIL_FROM', 'x'],
    ['MAIL_POLL_SECONDS', '0'],
    ['DATABASE_POOL_SIZE', 'lots'],
  ])('%s=%s throws a ConfigError naming the variable', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).toContain(name);
    expect(error.problems.length).toBeGreaterThan(0);
    for (const problem of error.problems) expect(problem).toMatch(new RegExp(`^${name}: `));
    expect(error.name).toBe('ConfigError');
  });

  it('lists every invalid variable at once', () => {
    const error = configError({ PORT: 'abc', LOG_LEVEL: 'loud', SMTP_URL: 'mail.example.org' });
    expect(error.problems).toHaveLength(3);
    for (const name of ['PORT', 'LOG_LEVEL', 'SMTP_URL']) expect(error.message).toContain(name);
  });

  it('does not echo secret values in its message', () => {
    const error = configError({ SMTP_URL: 'http://user:hunter2@mail.example.org' });
    expect(error.message).not.toContain('hunter2');
  });
});

describe('withDotenv', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-env-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a .env file, with real environment variables winning', () => {
    const file = path.join(dir, 'test.env');
    writeFileSync(file, 'PORT=4000\nHOST=0.0.0.0\n# comment\nLOG_LEVEL=warn\n');
    const env = withDotenv({ HOST: '10.1.2.3' }, file);
    expect(env).toMatchObject({ PORT: '4000', HOST: '10.1.2.3', LOG_LEVEL: 'warn' });
    expect(loadConfig(env).server).toMatchObject({ port: 4000, host: '10.1.2.3', logLevel: 'warn' });
  });

  it('honours ENV_FILE and returns a copy when the file does not exist', () => {
    const file = path.join(dir, 'other.env');
    writeFileSync(file, 'PORT=5000\n');
    expect(withDotenv({ ENV_FILE: file }).PORT).toBe('5000');
    const input = { PORT: '1' };
    const out = withDotenv(input, path.join(dir, 'missing.env'));
    expect(out).toEqual(input);
    expect(out).not.toBe(input);
  });
});

describe('request and connection timeouts', () => {
  it('default to 3600 s for a whole request and 60 s of silence on a connection', () => {
    expect(loadConfig({})).toMatchObject({ server: { requestTimeoutSeconds: 3600, connectionTimeoutSeconds: 60 } });
  });

  it('refuse a connection timeout that would cut off long-poll claims or quiet event streams', () => {
    expect(configError({ CONNECTION_TIMEOUT_SECONDS: '30' }).message).toMatch(/CONNECTION_TIMEOUT_SECONDS: must be greater than JOB_MAX_WAIT_SECONDS/);
    expect(configError({ CONNECTION_TIMEOUT_SECONDS: '40', REALTIME_KEEPALIVE_SECONDS: '45' }).message).toMatch(
      /CONNECTION_TIMEOUT_SECONDS: must be greater than REALTIME_KEEPALIVE_SECONDS/,
    );
    expect(loadConfig({ CONNECTION_TIMEOUT_SECONDS: '31' }).server.connectionTimeoutSeconds).toBe(31);
  });
});
