/**
 * The process logger: pino JSON lines, pretty-printed when stdout is a terminal. Secrets are
 * redacted by path (passwords, tokens, cookies, Authorization headers) and token query
 * parameters are cut out of logged URLs.
 */
import os from 'node:os';
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
  // Most URLs carry no query value at all: skip the regular expression for them.
  if (!url.includes('=')) return url;
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
 * Where a root logger made by {@link createLogger} writes, for lines Gatehouse formats itself
 * (the one request-completed line per request, see `http/request-logging.ts`): pino's general
 * path (key walk, redaction of wildcard paths, nested `JSON.stringify`) costs several
 * microseconds a line, a cost the busiest line need not pay.
 */
export interface RawLineSink {
  /** `"pid":…,"hostname":…`: pino's base fields as they appear in its lines, without braces. */
  readonly base: string;
  /** Writes one complete JSON line (ending in `\n`) through the logger's destination, in order with its other lines. */
  write(line: string): void;
}

const rawSinks = new WeakMap<Logger, RawLineSink>();

/**
 * The raw line sink of a logger made by {@link createLogger}, or undefined (another logger, or a
 * pretty-printing one). Only for lines that can hold no secret: callers redact URLs with
 * {@link redactUrl} and log no headers but the user agent.
 */
export function rawLineSinkOf(logger: Logger): RawLineSink | undefined {
  return rawSinks.get(logger);
}

/** Bytes of log lines gathered at most before they are written, whatever the event loop does. */
export const LOG_BUFFER_BYTES = 65_536;

type SonicBoom = ReturnType<typeof pino.destination>;

/**
 * Stdout for log lines, written once per event-loop turn: the lines of every request finished
 * in one turn are joined and handed to sonic-boom (which writes them synchronously, retrying on
 * `EAGAIN` and partial writes) in one `write(2)` (a busy server finishes many per turn) instead
 * of one each, and a line never waits past the end of its turn (nothing for a reader to notice).
 * Joining here rather than in sonic-boom matters: sonic-boom measures every string it is given
 * (`Buffer.byteLength`) and tracks its buffers per call, about 1.5 µs a line. Lines still
 * buffered when the process exits (`process.exit`, a signal handled by `stopOnSignals`, an
 * uncaught exception) are written synchronously by an `exit` handler.
 */
class TurnBufferedDestination {
  private lines: string[] = [];
  private length = 0;
  private scheduled = false;

  constructor(private readonly sonic: SonicBoom) {}

  /** Buffers `line` (pino calls this once per line) and schedules the turn's write. */
  write(line: string): boolean {
    this.lines.push(line);
    this.length += line.length;
    if (this.length >= LOG_BUFFER_BYTES) this.writeBuffered();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.writeTurn);
    }
    return true;
  }

  private readonly writeTurn = (): void => {
    this.scheduled = false;
    this.writeBuffered();
  };

  private writeBuffered(): void {
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? (this.lines[0] as string) : this.lines.join('');
    this.lines = [];
    this.length = 0;
    this.sonic.write(text);
  }

  /** Writes what is buffered now (pino's `logger.flush`). */
  flush(callback?: (error?: Error) => void): void {
    this.writeBuffered();
    this.sonic.flush(callback);
  }

  /** Writes what is buffered synchronously (used while exiting). */
  flushSync(): void {
    this.writeBuffered();
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
    const buffered = new TurnBufferedDestination(pino.destination({ fd, sync: true }));
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
  // pino's default base fields, serialised as pino serialises them.
  const base = JSON.stringify({ pid: process.pid, hostname: os.hostname() }).slice(1, -1);
  rawSinks.set(logger, { base, write: (line) => void destination.write(line) });
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
