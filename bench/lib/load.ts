/**
 * HTTP load through autocannon, run in a worker thread (`workers: 1`) so the load generator has
 * its own event loop and never competes with the server's on the main thread.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

/** One load run against one URL. */
export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationSeconds: number;
}

/** What a load run measured. */
export interface LoadResult {
  /** Mean requests per second over the run. */
  rps: number;
  /** Requests completed. */
  total: number;
  /** Latency percentiles in milliseconds (autocannon resolution: 1 ms). */
  p50: number;
  p99: number;
  /** Responses outside 2xx, plus socket errors and timeouts. */
  failures: number;
  /**
   * Main-thread (server) CPU time per request in microseconds: user + system time of this
   * process's main thread (Linux /proc; elsewhere its event-loop busy time). Unlike requests/s it
   * hardly moves when other processes compete for the CPU.
   */
  cpuUsPerRequest: number;
}

/** Linux clock ticks per second for /proc times (USER_HZ, 100 on every mainstream kernel). */
const USER_HZ = 100;

/** CPU milliseconds the main thread has used, or undefined where /proc is unavailable. */
export function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** Runs one autocannon load and summarises it. Throws when any request failed. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const eluStart = performance.eventLoopUtilization();
  const cpuStart = mainThreadCpuMs();
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    ...(options.body !== undefined ? { body: options.body } : {}),
    connections: options.connections,
    pipelining: 1,
    duration: options.durationSeconds,
    workers: 1,
  });
  const elu = performance.eventLoopUtilization(eluStart);
  const cpuEnd = mainThreadCpuMs();
  const busyMs = cpuStart !== undefined && cpuEnd !== undefined ? cpuEnd - cpuStart : elu.active;
  const failures = result.non2xx + result.errors + result.timeouts;
  const summary: LoadResult = {
    rps: result.requests.total / result.duration,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures,
    cpuUsPerRequest: result.requests.total > 0 ? (busyMs * 1000) / result.requests.total : 0,
  };
  if (failures > 0) {
    throw new Error(
      `${options.method ?? 'GET'} ${options.url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts out of ${result.requests.total}`,
    );
  }
  return summary;
}
