/**
 * Unit tests for `src/http/request-logging.ts`: the request-completed line Gatehouse formats
 * itself is, byte for byte, the line pino writes for the same fields (log tooling parses both).
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { formatRequestLine } from '../../src/http/request-logging.js';

/** The line pino writes for these fields, with its timestamp fragment fixed at `time`. */
function pinoLine(level: 'info' | 'debug', time: string, fields: Parameters<typeof formatRequestLine>[3]): string {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  const logger = pino({ level: 'trace', timestamp: () => time }, sink);
  const { reqId, method, url, ip, userAgent, statusCode, responseTime } = fields;
  logger[level]({ reqId, req: { method, url, ip, userAgent }, res: { statusCode }, responseTime }, 'request completed');
  return lines.join('');
}

const base = JSON.stringify({ pid: process.pid, hostname: (await import('node:os')).hostname() }).slice(1, -1);

describe('formatRequestLine', () => {
  const cases: Array<[string, 'info' | 'debug', Parameters<typeof formatRequestLine>[3]]> = [
    ['a plain GET', 'info', { reqId: 'req-01', method: 'GET', url: '/api/v1/users/me', ip: '127.0.0.1', userAgent: 'curl/8.5.0', statusCode: 200, responseTime: 0.4123456 }],
    ['no user agent, debug level', 'debug', { reqId: 'r', method: 'POST', url: '/api/v1/workers/claim', ip: '::1', userAgent: undefined, statusCode: 204, responseTime: 12 }],
    ['no peer address (the socket went away)', 'info', { reqId: 'r2', method: 'GET', url: '/', ip: undefined, userAgent: 'x', statusCode: 304, responseTime: 1.5 }],
    ['quotes, backslashes, control and non-ASCII characters', 'info', { reqId: 'id"\\', method: 'GET', url: '/files/na\u00efve "x"\\y', ip: '10.0.0.1', userAgent: 'Mozilla/5.0 \u2603 \u0001\ttab', statusCode: 404, responseTime: 3 }],
    ['a response time that is not a number', 'info', { reqId: 'r3', method: 'GET', url: '/healthz', ip: '1.2.3.4', userAgent: undefined, statusCode: 200, responseTime: Number.NaN }],
  ];
  it.each(cases)('%s: the same line as pino', (_name, level, fields) => {
    const time = ',"time":1796000000123';
    const ours = formatRequestLine({ base }, level, time, fields);
    expect(ours).toBe(pinoLine(level, time, fields));
    expect(JSON.parse(ours)).toMatchObject({ level: level === 'info' ? 30 : 20, msg: 'request completed', reqId: fields.reqId, res: { statusCode: fields.statusCode } });
  });
});
