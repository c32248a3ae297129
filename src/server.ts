/**
 * `gatehouse serve`: load config, open and migrate the database, build the app, listen, and
 * shut down gracefully on SIGINT/SIGTERM (stop accepting, finish in-flight requests, stop the
 * outbox, close the database).
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { createGatehouse, type Gatehouse, type GatehouseOverrides } from './container.js';
import { claimServerLock, serverDatabaseConfig } from './db/server-presence.js';
import { ensurePrivateDir } from './shared/private-files.js';

/** A listening server and how to stop it. */
export interface RunningServer {
  app: FastifyInstance;
  gatehouse: Gatehouse;
  /** The address actually bound, e.g. `http://127.0.0.1:3000`. */
  address: string;
  stop(): Promise<void>;
}

/**
 * Starts Gatehouse and listens on `config.server.host:port`. While it runs, `gatehouse restore`
 * can tell (see `db/server-presence.ts`): on SQLite it keeps `<database>.server.lock`, on
 * PostgreSQL its connections are named `gatehouse-server`.
 * @throws when the port is taken or the database cannot be opened or migrated.
 */
export async function startServer(base: Config, overrides: GatehouseOverrides = {}): Promise<RunningServer> {
  const config: Config = { ...base, database: serverDatabaseConfig(base.database) };
  // DATA_DIR holds the database, backups, mail and files: created 0700 (an existing one keeps its mode).
  ensurePrivateDir(config.dataDir);
  const gatehouse = await createGatehouse(config, overrides);
  let releaseLock = () => undefined as void;
  let app: FastifyInstance;
  try {
    releaseLock = claimServerLock(config.database, gatehouse.clock.now());
    app = await buildApp(gatehouse);
    const address = await app.listen({ port: config.server.port, host: config.server.host });
    await gatehouse.startBackground();
    // Built-in workers claim over HTTP like remote ones: from this server's own address.
    await gatehouse.builtinWorkers.start(localUrl(config.server.host, app.server.address()));
    gatehouse.logger.info(
      {
        address,
        publicUrl: config.server.publicUrl,
        database: gatehouse.database.dialect,
        // The SQLite file, or the PostgreSQL host and database (never the password).
        location:
          gatehouse.database.dialect === 'sqlite'
            ? config.database.url
            : (() => {
                const u = new URL(config.database.url);
                return `${u.host}${u.pathname}`;
              })(),
      },
      `Gatehouse is listening; open ${config.server.publicUrl}`,
    );
    let stopping: Promise<void> | undefined;
    return {
      app,
      gatehouse,
      address,
      stop: () =>
        (stopping ??= (async () => {
          try {
            // Threads finish (or release) their jobs while the server still answers them.
            await gatehouse.builtinWorkers.stop();
            await app.close();
            await gatehouse.close();
          } finally {
            releaseLock();
          }
        })()),
    };
  } catch (error) {
    releaseLock();
    await gatehouse.close();
    throw error;
  }
}

/** The URL this process reaches its own listening server at (loopback when bound to every interface). */
function localUrl(host: string, address: ReturnType<FastifyInstance['server']['address']>): string {
  const port = typeof address === 'object' && address ? address.port : 0;
  const reachable = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/**
 * Stops the server `starting` resolves to on the first SIGINT/SIGTERM; a second signal exits at
 * once. Install it before the server starts listening: a signal that arrives while the server is
 * still starting (it already answers requests once it listens, while its background tasks and
 * built-in workers start) must not kill it by the signal's default action, which would drop the
 * requests it is answering. Such a signal lets the start finish, then stops gracefully. When the
 * start fails, the caller reports the failure; nothing is stopped here.
 */
export function stopOnSignals(starting: Promise<RunningServer>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    starting.then(
      (server) => {
        server.gatehouse.logger.info({ signal }, 'shutting down');
        server.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            server.gatehouse.logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      },
      () => undefined,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
