/** Worker-thread entry of {@link inThread}: runs one client scenario and posts its result. */
import { parentPort, workerData } from 'node:worker_threads';
import { type ClientScenarios, runScenario } from './jobs-clients.js';

const { name, args } = workerData as { name: keyof ClientScenarios; args: unknown };
runScenario(name, args).then(
  (result) => parentPort?.postMessage({ ok: true, result }),
  (error: unknown) => parentPort?.postMessage({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
);
