/**
 * A dedicated PostgreSQL connection that LISTENs on one channel and reconnects with backoff
 * (500 ms doubling to 30 s). Used for cross-instance hints: auth revocations and job events.
 */
import type pg from 'pg';
import { loadPg } from './drivers.js';
import type { Logger } from 'pino';

/** A running listener. */
export interface PgChannelListener {
  /** True while the connection is up and listening. */
  healthy(): boolean;
  /** Closes the connection; no reconnects afterwards. */
  stop(): Promise<void>;
}

/** Options for {@link listenToPgChannel}. */
export interface PgListenOptions {
  url: string;
  /** A trusted identifier (it is interpolated into `LISTEN`). */
  channel: string;
  logger: Logger;
  /** Called with each notification's payload. */
  onNotification(payload: string): void;
  /** Called after every (re)connect, once LISTEN is in place: catch up on what may have been missed. */
  onConnected?(): void;
}

/**
 * Connects, LISTENs, and keeps doing so across connection losses.
 * @throws when the first connection fails (later failures are retried and logged).
 */
export async function listenToPgChannel(options: PgListenOptions): Promise<PgChannelListener> {
  const { url, channel, logger } = options;
  let client: pg.Client | undefined;
  let connected = false;
  let stopped = false;
  let retryMs = 500;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new (loadPg().Client)({ connectionString: url });
    next.on('notification', (msg) => {
      if (msg.channel === channel) options.onNotification(msg.payload ?? '');
    });
    const onLost = (error?: Error) => {
      if (client !== next) return;
      connected = false;
      client = undefined;
      next.removeAllListeners();
      void next.end().catch(() => undefined);
      if (stopped) return;
      logger.warn({ err: error?.message, channel }, 'listener lost its connection; reconnecting');
      scheduleReconnect();
    };
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}`);
    } catch (error) {
      next.removeAllListeners();
      await next.end().catch(() => undefined);
      throw error;
    }
    next.on('error', onLost);
    next.on('end', () => onLost());
    client = next;
    connected = true;
    retryMs = 500;
    options.onConnected?.();
  };

  const scheduleReconnect = () => {
    retryTimer = setTimeout(() => {
      connect().catch((error: unknown) => {
        client = undefined;
        logger.warn({ err: (error as Error).message, channel }, 'listener could not reconnect');
        retryMs = Math.min(retryMs * 2, 30_000);
        if (!stopped) scheduleReconnect();
      });
    }, retryMs);
    retryTimer.unref();
  };

  await connect();
  return {
    healthy: () => connected,
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      connected = false;
      await current?.end().catch(() => undefined);
    },
  };
}
