/**
 * Runs one of the bench scripts (`bench/*.ts`) as `npm run bench…` would, in a child process, for
 * the benches' smoke tests: they assert that a scenario ran and reported its rows, never a figure.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the script printed, and how it exited. */
export interface BenchScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node --import tsx <script> ...args` from the repository root with `env` added to this
 * process's environment, and waits for it to exit.
 */
export async function runBenchScript(script: string, args: string[], env: Record<string, string> = {}): Promise<BenchScriptRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}
