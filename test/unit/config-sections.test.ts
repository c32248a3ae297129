/** Unit tests for the configuration sections (src/config/*.ts) that `loadConfig` composes. */
import { describe, expect, it } from 'vitest';
import { describeConfig } from '../../src/config.js';
import { authAccountsEnvShape, authEnvShape } from '../../src/config/auth.js';
import { databaseEnvShape } from '../../src/config/database.js';
import { filesEnvShape } from '../../src/config/files.js';
import { jobsEnvShape } from '../../src/config/jobs.js';
import { limitsEnvShape, quotaEnvShape } from '../../src/config/limits.js';
import { mailEnvShape } from '../../src/config/mail.js';
import { notifyEnvShape } from '../../src/config/notify.js';
import { realtimeEnvShape } from '../../src/config/realtime.js';
import { schedulerEnvShape } from '../../src/config/scheduler.js';
import { serverEnvShape } from '../../src/config/server.js';
import { mfaEnvShape } from '../../src/mfa/mfa.config.js';

const shapes: Record<string, object> = {
  server: serverEnvShape,
  database: databaseEnvShape,
  auth: authEnvShape,
  authAccounts: authAccountsEnvShape,
  mail: mailEnvShape,
  jobs: jobsEnvShape,
  files: filesEnvShape,
  realtime: realtimeEnvShape,
  notify: notifyEnvShape,
  limits: limitsEnvShape,
  quota: quotaEnvShape,
  scheduler: schedulerEnvShape,
  mfa: mfaEnvShape,
};

describe('configuration sections', () => {
  it('claim each variable once (a variable in two shapes would silently lose one schema)', () => {
    const owner = new Map<string, string>();
    for (const [section, shape] of Object.entries(shapes)) {
      for (const name of Object.keys(shape)) {
        expect(owner.get(name), `${name} is in ${owner.get(name)} and ${section}`).toBeUndefined();
        owner.set(name, section);
      }
    }
  });

  it('together are every variable `config show` lists', () => {
    const listed = describeConfig({ ENV_FILE: '/nonexistent/.env' }).map((s) => s.name);
    expect([...listed].sort()).toEqual(Object.values(shapes).flatMap((shape) => Object.keys(shape)).sort());
  });
});
