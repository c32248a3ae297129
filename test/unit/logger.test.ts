/** Unit tests for `src/shared/logger.ts`: secrets never reach the logs. */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACTED_PATHS, redactUrl } from '../../src/shared/logger.js';

describe('redactUrl', () => {
  it.each([
    ['/verify-email?token=abc123', '/verify-email?token=[redacted]'],
    ['/reset-password?token=abc&next=/home', '/reset-password?token=[redacted]&next=/home'],
    ['/cb?state=1&refresh_token=r.t&access_token=a.b.c', '/cb?state=1&refresh_token=[redacted]&access_token=[redacted]'],
    ['/x?password=hunter2#frag', '/x?password=[redacted]#frag'],
    ['/x?TOKEN=UPPER', '/x?TOKEN=[redacted]'],
    ['/x?token=a&token=b', '/x?token=[redacted]&token=[redacted]'],
    ['/x?token=', '/x?token=[redacted]'],
  ])('%s → %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it.each(['/healthz', '/api/v1/users/me', '/x?mytoken=keep&tokens=keep', '/token?next=1', '/a/token=b'])('leaves %s alone', (url) => {
    expect(redactUrl(url)).toBe(url);
  });
});

describe('REDACTED_PATHS', () => {
  function logged(object: Record<string, unknown>): string {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    const logger = pino({ redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
    logger.info(object, 'message');
    return lines.join('');
  }

  it('hides passwords, tokens, cookies and authorization headers', () => {
    const line = logged({
      password: 'top-secret-1',
      token: 'top-secret-2',
      body: { password: 'top-secret-3', new_password: 'top-secret-4', current_password: 'top-secret-5', refresh_token: 'top-secret-6' },
      result: { access_token: 'top-secret-7', token: 'top-secret-8' },
      req: { headers: { authorization: 'Bearer top-secret-9', cookie: 'gh_session=top-secret-10', 'user-agent': 'kept' } },
      res: { headers: { 'set-cookie': 'gh_session=top-secret-11' } },
      headers: { authorization: 'Bearer top-secret-12', cookie: 'top-secret-13' },
    });
    expect(line).not.toMatch(/top-secret/);
    expect(line).toContain('[redacted]');
    expect(line).toContain('kept');
  });
});
