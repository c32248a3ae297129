/**
 * Errors Node's HTTP parser raises before a request exists (Fastify's `clientErrorHandler`):
 * a request line or headers over the size limit (`431`), a request not received in time (`408`,
 * REQUEST_TIMEOUT_SECONDS), or a malformed request (`400`). They get problem documents like
 * every other error, not Fastify's plain JSON, and the connection is closed.
 */
import type { Socket } from 'node:net';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { problemFor } from './problem.js';

/** Node's reason phrases for the statuses this module sends. */
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/**
 * The domain error for a parser error code (`HPE_*` from llhttp, `ERR_HTTP_REQUEST_TIMEOUT` from
 * the server's request and headers timeouts).
 */
export function clientErrorToAppError(code: string | undefined): AppError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new AppError('headers_too_large', 'The request line and headers may be at most 16 KiB together.');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError('request_timeout', 'The request was not received in time.');
    default:
      return new AppError('bad_request', 'The request is not valid HTTP/1.1.');
  }
}

/**
 * Answers a client error on `socket` with a problem document and closes the connection. Nothing is
 * written when the socket is gone or a response to this connection has already begun (its bytes
 * would corrupt that response).
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const pending = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !pending?.headersSent) {
    const appError = clientErrorToAppError(error.code);
    const requestId = newId();
    const body = JSON.stringify(problemFor(appError, requestId));
    socket.write(
      `HTTP/1.1 ${appError.status} ${REASONS[appError.status] ?? 'Error'}\r\n` +
        'Content-Type: application/problem+json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
}
