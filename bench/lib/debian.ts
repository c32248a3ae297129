/**
 * Tools the benches run from Debian's packages (`wrk`, `valgrind`), installed with apt-get (needs
 * root) when missing, as `.ci/run` does for the tests.
 */
import { execFileSync } from 'node:child_process';

/**
 * Makes sure `command` is on PATH, installing Debian's `debianPackage` when it is not.
 * @param probeArgs arguments that make `command` exit quickly (its exit status does not matter:
 *   only a missing binary, ENOENT, triggers the install).
 * @throws when apt-get fails.
 */
export function ensureDebianTool(command: string, probeArgs: string[], debianPackage: string, log: (message: string) => void): void {
  try {
    execFileSync(command, probeArgs, { stdio: 'ignore' });
    return;
  } catch (error) {
    // `wrk --version` exits 1 after printing its version: only a missing binary is ENOENT.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return;
  }
  log(`${command} is missing: installing Debian's package (apt-get update && apt-get install -y ${debianPackage})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', debianPackage], { stdio: 'inherit', env });
}
