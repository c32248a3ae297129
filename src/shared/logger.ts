/**
 * The process logger: pino JSON lines, pretty-printed when stdout is a terminal. Secrets are
 * redacted by path (passwords, tokens, cookies, Authorization headers) and token query
 * parameters are cut out of logged URLs.
 */
import pino, { type Logger } from 'pino';

/** Paths whose values are replaced by `[redacted]` in every log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.new_password',
  '*.current_password',
  '*.token',
  '*.refresh_token',
  '*.access_token',
  'password',
  'token',
];

/** Replaces the value of secret-bearing query parameters in a URL path with `[redacted]`. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|refresh_token|access_token|password)=)[^&#]*/gi, '$1[redacted]');
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  level: string;
  /** Pretty-print (default: when the destination is a TTY). */
  pretty?: boolean;
  /** Write to stderr instead of stdout (the CLI keeps stdout for its own output). */
  stderr?: boolean;
}

/**
 * Per root logger: a sibling writing to the same destination without redaction or serializers,
 * for lines whose every field Gatehouse builds itself from non-secret values (the one
 * request-completed line per request, see `http/request-logging.ts`): redaction walks every
 * line for its wildcard paths, a cost the busiest line need not pay.
 */
const plainSiblings = new WeakMap<Logger, Logger>();

/**
 * The unredacted sibling of a logger made by {@link createLogger}, or undefined (another logger,
 * or a pretty-printing one). Only for lines that can hold no secret: callers redact URLs with
 * {@link redactUrl} and log no headers but the user agent.
 */
export function plainSiblingOf(logger: Logger): Logger | undefined {
  return plainSiblings.get(logger);
}

/** Creates the root logger. */
export function createLogger(options: LoggerOptions): Logger {
  const fd = options.stderr ? 2 : 1;
  const pretty = options.pretty ?? (fd === 2 ? process.stderr : process.stdout).isTTY === true;
  if (pretty) {
    return pino({
      level: options.level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { req: serializeRequest },
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss', destination: fd } },
    });
  }
  const destination = pino.destination({ fd, sync: false });
  const logger = pino(
    { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, serializers: { req: serializeRequest } },
    destination,
  );
  // The sibling writes whatever it is given: callers check the root's level first.
  plainSiblings.set(logger, pino({ level: 'trace' }, destination));
  return logger;
}

function serializeRequest(req: { method: string; url: string; ip?: string; headers?: Record<string, unknown> }) {
  return {
    method: req.method,
    url: redactUrl(req.url),
    ip: req.ip,
    userAgent: req.headers?.['user-agent'],
  };
}
