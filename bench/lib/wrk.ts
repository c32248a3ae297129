/**
 * HTTP load with Debian's `wrk` (a C load generator: on two cores it keeps up with a bare Fastify
 * route, which a Node generator such as autocannon does not). Installed with apt-get when missing.
 */
import { spawn } from 'node:child_process';
import { ensureDebianTool } from './debian.js';

/** What one wrk run measured. */
export interface WrkResult {
  /** Requests per second over the run (wrk's `Requests/sec`). */
  rps: number;
  /** Requests completed. */
  total: number;
  /** Latency percentiles in milliseconds (wrk --latency). */
  p50: number;
  p99: number;
}

/** Options of one run: `wrk -t{threads} -c{connections} -d{durationSeconds}s --latency`. */
export interface WrkOptions {
  url: string;
  headers?: Record<string, string>;
  threads: number;
  connections: number;
  durationSeconds: number;
}

/** Makes sure `wrk` is on PATH, installing Debian's package (apt-get; needs root) when it is not. */
export function ensureWrk(log: (message: string) => void): void {
  ensureDebianTool('wrk', ['--version'], 'wrk', log);
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function milliseconds(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) return Number.NaN;
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** Parses wrk's report (`--latency` form). @throws when a response was not 2xx/3xx or a socket failed. */
export function parseWrk(output: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]);
  const total = Number(/(\d+) requests in/.exec(output)?.[1]);
  const p50 = milliseconds(/^\s+50%\s+(\S+)/m.exec(output)?.[1] ?? '');
  const p99 = milliseconds(/^\s+99%\s+(\S+)/m.exec(output)?.[1] ?? '');
  if (!Number.isFinite(rps) || !Number.isFinite(total)) throw new Error(`unreadable wrk output:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  if (non2xx) throw new Error(`${non2xx[1]} of ${total} responses were not 2xx/3xx`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  // Timeouts (a response slower than --timeout) are slowness on a loaded machine, not failures.
  if (socket && socket.slice(1, 4).some((n) => Number(n) > 0)) throw new Error(`wrk socket errors: ${socket[0]}`);
  return { rps, total, p50, p99 };
}

/** Runs wrk once. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.durationSeconds}s`, '--latency', '--timeout', '10s'];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`))));
  });
  try {
    return parseWrk(output);
  } catch (error) {
    throw new Error(`${options.url}: ${(error as Error).message}`);
  }
}
