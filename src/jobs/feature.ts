/** Queues, jobs and the worker protocol as a platform feature. */
import { registerJobCommands } from '../cli/commands/jobs.js';
import { registerQueueCommands } from '../cli/commands/queues.js';
import { definePlatformFeature } from '../platform/feature.js';

/**
 * The jobs feature: its routes (`/queues`, `/jobs`, `/worker`) and CLI commands (`queues`, `jobs`).
 * `gatehouse worker` is registered by the CLI itself: it needs the module list (built-in workers).
 */
export const jobsFeature = definePlatformFeature({
  name: 'jobs',
  description: 'Queues, jobs, and the worker protocol with leases, heartbeats and fencing.',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { jobsRoutes } = await import('./jobs.routes.js');
    const { queuesRoutes } = await import('./queues.routes.js');
    const { workerRoutes } = await import('./worker.routes.js');
    await api.register(queuesRoutes, { queues: gatehouse.queues, jobs: gatehouse.jobs });
    await api.register(jobsRoutes, { jobs: gatehouse.jobs });
    await api.register(workerRoutes, { workerProtocol: gatehouse.workerProtocol, maxWaitSeconds: gatehouse.config.jobs.maxWaitSeconds });
  },
  commands(program) {
    registerQueueCommands(program);
    registerJobCommands(program);
  },
});
