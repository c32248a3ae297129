/**
 * Request logging at a cost a busy server can pay: one line per request, not Fastify's two
 * ("incoming request" and "request completed"), and no pino child logger per request unless the
 * request actually logs something of its own. (At `debug`, the `incoming request` line is kept.)
 *
 * The line is written when the response has been sent: `{reqId, req: {method, url, ip,
 * userAgent}, res: {statusCode}, responseTime}` (milliseconds) with the message
 * `request completed`, at `info`. Secret query parameters are cut out of the URL; no header but
 * the user agent is logged, so the line is formatted here, field by field in pino's own layout,
 * and written through the root logger's destination (`rawLineSinkOf`): pino's general path
 * (key walk, redaction, nested stringify) cost about 3 µs of the 10 µs a request's logging cost.
 * Errors are still logged by Fastify's error paths, through the request's own logger.
 *
 * The server's own built-in workers (worker threads claiming over HTTP, the `builtin-workers@`
 * service account) poll and heartbeat all day: their successful requests are logged at `debug`,
 * so that at `info` the log shows what people and remote workers do (a refused one stays `info`).
 */
import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { type Bindings, type ChildLoggerOptions, type Logger, stdTimeFunctions } from 'pino';
import { type RawLineSink, rawLineSinkOf, redactUrl } from '../shared/logger.js';
import { BUILTIN_WORKER_EMAIL } from '../shared/service-accounts.js';

/** pino's numbers for the two levels the request line is written at. */
const LEVEL_NUMBERS = { info: 30, debug: 20 } as const;

/** A JSON member `,"name":value`, or nothing when the value is undefined (as `JSON.stringify` omits it). */
function member(name: string, value: string | undefined): string {
  return value === undefined ? '' : `,"${name}":${JSON.stringify(value)}`;
}

/**
 * The request-completed line exactly as pino writes it for
 * `logger[level]({reqId, req: {method, url, ip, userAgent}, res: {statusCode}, responseTime}, 'request completed')`:
 * `{"level","time","pid","hostname",…fields,"msg"}` and a newline. `time` is pino's timestamp
 * fragment (`,"time":<epoch ms>`, from `pino.stdTimeFunctions.epochTime`, the function pino uses
 * itself). `url` must already be redacted.
 */
export function formatRequestLine(
  sink: Pick<RawLineSink, 'base'>,
  level: keyof typeof LEVEL_NUMBERS,
  time: string,
  fields: { reqId: string; method: string; url: string; ip: string | undefined; userAgent: string | undefined; statusCode: number; responseTime: number },
): string {
  const req = `{"method":${JSON.stringify(fields.method)},"url":${JSON.stringify(fields.url)}${member('ip', fields.ip)}${member('userAgent', fields.userAgent)}}`;
  const responseTime = Number.isFinite(fields.responseTime) ? String(fields.responseTime) : 'null';
  return `{"level":${LEVEL_NUMBERS[level]}${time},${sink.base},"reqId":${JSON.stringify(fields.reqId)},"req":${req},"res":{"statusCode":${fields.statusCode}},"responseTime":${responseTime},"msg":"request completed"}\n`;
}

/** Fastify's log controller with the two per-request lines folded into one (see the module comment). */
export class RequestLogController extends LogController {
  /** Where the root logger writes, for the line formatted here. */
  private readonly sink: RawLineSink | undefined;

  constructor(private readonly root: Logger) {
    super();
    this.sink = rawLineSinkOf(root);
  }

  /** At `debug` only (a second line per request is what `info` must not pay). */
  override incomingRequest(request: FastifyRequest): void {
    if (this.root.isLevelEnabled('debug')) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) {
      super.requestCompleted(error, request, reply);
      return;
    }
    const level = reply.statusCode < 400 && request.principal?.user.email === BUILTIN_WORKER_EMAIL ? 'debug' : 'info';
    if (!this.root.isLevelEnabled(level)) return;
    const res = { statusCode: reply.statusCode };
    if (this.sink) {
      const userAgent = request.headers['user-agent'];
      const line = formatRequestLine(this.sink, level, stdTimeFunctions.epochTime(), {
        reqId: request.id,
        method: request.method,
        url: redactUrl(request.url),
        ip: request.ip,
        userAgent,
        statusCode: reply.statusCode,
        responseTime: reply.elapsedTime,
      });
      this.sink.write(line);
    } else {
      this.root[level]({ reqId: request.id, req: request, res, responseTime: reply.elapsedTime }, 'request completed');
    }
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/**
 * A request's logger that becomes `root.child(bindings)` on first use: most requests log
 * nothing of their own, and a pino child costs an object and a serialised binding each.
 */
class LazyChildLogger {
  made: Logger | undefined;

  constructor(
    private readonly root: Logger,
    private readonly bindingsOf: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get target(): Logger {
    return (this.made ??= this.root.child(this.bindingsOf, this.options));
  }

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.root.level;
  }

  set level(level: string) {
    this.target.level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.target.child(bindings, options);
  }

  isLevelEnabled(level: string): boolean {
    return (this.made ?? this.root).isLevelEnabled(level);
  }

  bindings(): Bindings {
    return { ...this.root.bindings(), ...this.bindingsOf };
  }

  silent(): void {
    // Nothing to write.
  }
}
for (const level of LEVELS) {
  Object.defineProperty(LazyChildLogger.prototype, level, {
    value(this: LazyChildLogger, ...args: unknown[]) {
      // Below the level there is nothing to write and no child to make.
      if (!this.isLevelEnabled(level)) return;
      (this.target[level] as (...a: unknown[]) => void)(...args);
    },
  });
}

/** Fastify `childLoggerFactory` making {@link LazyChildLogger}s. */
export function lazyChildLoggerFactory(
  this: unknown,
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new LazyChildLogger(logger as unknown as Logger, bindings, options) as unknown as FastifyBaseLogger;
}
