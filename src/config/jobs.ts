/** The `jobs` configuration section: the job queue (src/jobs/) and the built-in workers (src/worker/). */
import { z } from 'zod';
import { nonNegativeInt, type ParsedShape, positiveInt } from './schema.js';

/** The `jobs` section of the configuration. */
export interface JobsConfig {
  /** Largest job payload (serialised JSON), in bytes. Default 65536. Results and metrics share the limit. */
  payloadMaxBytes: number;
  /** Seconds between lease sweeps (on every instance). Default 5. */
  sweepSeconds: number;
  /** Longest long-poll wait a claim may ask for, in seconds. Default 30. */
  maxWaitSeconds: number;
  /** Long-poll claims one worker API key may have waiting at once on this instance; more are 429. Default 8. */
  maxWaitingClaimsPerKey: number;
  /** Days finished jobs (and their events) are kept by `prune-jobs`; 0 = forever. Default 30. */
  retentionDays: number;
  /**
   * Built-in workers the server runs in worker threads (`BUILTIN_WORKERS`): `all` (default), or
   * the names to run; an empty list (`none`) runs none, for deployments whose remote workers do the work.
   */
  builtinWorkers: 'all' | string[];
  /** Worker threads per built-in worker (`BUILTIN_WORKER_THREADS`). Default 1. */
  builtinWorkerThreads: number;
}

/** The section's environment variables. */
export const jobsEnvShape = {
  JOB_PAYLOAD_MAX_BYTES: positiveInt(16 * 1024 * 1024).default(65_536),
  JOB_SWEEP_SECONDS: positiveInt(3600).default(5),
  JOB_MAX_WAIT_SECONDS: positiveInt(30).default(30),
  JOB_MAX_WAITING_CLAIMS_PER_KEY: positiveInt(100_000).default(8),
  JOB_RETENTION_DAYS: nonNegativeInt(36_500).default(30),
  BUILTIN_WORKERS: z
    .string()
    .regex(/^\s*(all|none|[a-z][a-z0-9-]*(\s*,\s*[a-z][a-z0-9-]*)*)\s*$/, 'must be all, none, or a comma-separated list of built-in worker names')
    .default('all'),
  BUILTIN_WORKER_THREADS: positiveInt(64).default(1),
};

/** Builds the section from the parsed variables. */
export function jobsSettings(e: ParsedShape<typeof jobsEnvShape>): JobsConfig {
  return {
    payloadMaxBytes: e.JOB_PAYLOAD_MAX_BYTES,
    sweepSeconds: e.JOB_SWEEP_SECONDS,
    maxWaitSeconds: e.JOB_MAX_WAIT_SECONDS,
    maxWaitingClaimsPerKey: e.JOB_MAX_WAITING_CLAIMS_PER_KEY,
    retentionDays: e.JOB_RETENTION_DAYS,
    builtinWorkers: e.BUILTIN_WORKERS.trim() === 'all' ? 'all' : e.BUILTIN_WORKERS.trim() === 'none' ? [] : e.BUILTIN_WORKERS.split(',').map((n) => n.trim()),
    builtinWorkerThreads: e.BUILTIN_WORKER_THREADS,
  };
}
