/** The `realtime` configuration section: SSE streams and WebSockets (src/realtime/). */
import { type ParsedShape, positiveInt } from './schema.js';

/** The `realtime` section of the configuration. */
export interface RealtimeConfig {
  /** Seconds between keep-alive comments on SSE streams and pings on WebSockets. Default 15. */
  keepAliveSeconds: number;
  /** Topics one stream or socket may subscribe to. Default 100. */
  maxTopics: number;
  /** Open SSE streams plus WebSockets one user may hold on this instance; more are 429. Default 20. */
  maxConnectionsPerUser: number;
}

/** The section's environment variables. */
export const realtimeEnvShape = {
  REALTIME_KEEPALIVE_SECONDS: positiveInt(3600).default(15),
  REALTIME_MAX_TOPICS: positiveInt(10_000).default(100),
  REALTIME_MAX_CONNECTIONS_PER_USER: positiveInt(100_000).default(20),
};

/** Builds the section from the parsed variables. */
export function realtimeSettings(e: ParsedShape<typeof realtimeEnvShape>): RealtimeConfig {
  return {
    keepAliveSeconds: e.REALTIME_KEEPALIVE_SECONDS,
    maxTopics: e.REALTIME_MAX_TOPICS,
    maxConnectionsPerUser: e.REALTIME_MAX_CONNECTIONS_PER_USER,
  };
}
