/**
 * The process logger: pino JSON lines, pretty-printed when stdout is a terminal. Secrets are
 * redacted by path (passwords, tokens, cookies, Authorization headers) and token query
 * parameters are cut out of logged URLs.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

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

/** Bytes of log lines gathered at most before they are written, whatever the event loop does. */
export const LOG_BUFFER_BYTES = 8192;

type SonicBoom = ReturnType<typeof pino.destination>;

/**
 * Stdout for log lines, written once per event-loop turn: the lines of every request finished
 * in one turn leave in one `write(2)` (a busy server finishes many per turn) instead of one each,
 * and a line never waits past the end of its turn (nothing for a reader to notice). Lines
 * still buffered when the process exits (`process.exit`, a signal handled by `stopOnSignals`, an
 * uncaught exception) are written synchronously by an `exit` handler.
 */
class TurnBufferedDestination {
  private scheduled = false;

  constructor(private readonly sonic: SonicBoom) {}

  /** Buffers `line` (pino calls this once per line) and schedules the turn's write. */
  write(line: string): boolean {
    const accepted = this.sonic.write(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.writeTurn);
    }
    return accepted;
  }

  private readonly writeTurn = (): void => {
    this.scheduled = false;
    this.sonic.flush();
  };

  /** Writes what is buffered now (pino's `logger.flush`). */
  flush(callback?: (error?: Error) => void): void {
    this.sonic.flush(callback);
  }

  /** Writes what is buffered synchronously (used while exiting). */
  flushSync(): void {
    this.sonic.flushSync();
  }
}

/** One destination per file descriptor, shared by every logger of the process (one buffer, lines in order). */
const destinations = new Map<number, DestinationStream>();

/**
 * The destination for `fd`: stdout (server logs) is written once per event-loop turn (see
 * {@link TurnBufferedDestination}); stderr (the CLI's log lines, interleaved with its own
 * output) line by line. Both write synchronously, as pino does by default.
 */
function destinationFor(fd: number): DestinationStream {
  const known = destinations.get(fd);
  if (known) return known;
  let destination: DestinationStream;
  if (fd === 1) {
    const buffered = new TurnBufferedDestination(pino.destination({ fd, sync: true, minLength: LOG_BUFFER_BYTES }));
    process.on('exit', () => {
      try {
        buffered.flushSync();
      } catch {
        // Nothing more can be done for log lines while exiting (closed or broken stdout).
      }
    });
    destination = buffered;
  } else {
    destination = pino.destination({ fd, sync: true });
  }
  destinations.set(fd, destination);
  return destination;
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
  const destination: DestinationStream = destinationFor(fd);
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
