/**
 * What `npm pack` ships: the compiled `dist/` (built by `prepack` at pack time), the `bin/` entry
 * and no install-time script, so installing the tarball into another project runs nothing of
 * ours (npm's allowScripts check flags `preinstall`/`install`/`postinstall` everywhere and
 * `prepare` for tarball, git and directory installs).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server-process.js';

interface PackReport {
  name: string;
  files: Array<{ path: string }>;
}

describe('the npm package', () => {
  it('ships dist/ and bin/ and no install-time script; prepack builds dist/', () => {
    // --ignore-scripts: list what is on disk now (npm test builds dist/ before the suite runs).
    const run = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const [report] = JSON.parse(run.stdout) as PackReport[];
    const files = (report?.files ?? []).map((f) => f.path);
    for (const file of ['bin/gatehouse.js', 'dist/index.js', 'dist/cli/main.js', 'dist/worker/index.js', 'dist/web/assets/pages.css', 'package.json']) {
      expect(files).toContain(file);
    }
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('node_modules/'))).toEqual([]);

    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const installTime of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts).not.toHaveProperty(installTime);
    expect(manifest.scripts.prepack).toBe('npm run build');
    // A clone still builds on `npm install`/`npm ci`: npm runs the root project's postprepare, never a dependency's.
    expect(manifest.scripts.postprepare).toBe('npm run build');
  });
});
