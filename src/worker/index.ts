/**
 * `gatehouse/worker`: the worker SDK (docs/jobs.md, "Worker protocol").
 *
 * - {@link Worker}: claims jobs, runs handlers by kind, heartbeats, progress, files, graceful stop.
 * - {@link WorkerClient}: the typed HTTP calls underneath, for callers who drive the protocol themselves.
 * - Errors: {@link PermanentError} (throw it to fail a job for good), {@link JobAbortedError}
 *   (`ctx.signal.reason`), {@link GatehouseApiError} (an error answer with its problem `code`),
 *   {@link GatehouseNetworkError} (no answer).
 */
export { BACKOFF_BASE_MS, BACKOFF_MAX_MS, backoffDelayMs, retryDelayMs } from './backoff.js';
export {
  type ClaimedJob,
  type ClaimRequest,
  type CompleteBatchResult,
  type FileMeta,
  GatehouseApiError,
  GatehouseNetworkError,
  type HeartbeatAnswer,
  type HeartbeatRequest,
  isLeaseLost,
  isTransientError,
  type JobView,
  type Problem,
  type ReportedError,
  WorkerClient,
  type WorkerClientOptions,
} from './client.js';
export {
  estimateLeaseMs,
  type JobAbortReason,
  JobAbortedError,
  type JobContext,
  type HandlerOptions,
  type JobHandler,
  PermanentError,
  Worker,
  type WorkerEvents,
  type WorkerLogger,
  type WorkerOptions,
} from './worker.js';
