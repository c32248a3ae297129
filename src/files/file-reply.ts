/**
 * Serving stored bytes over HTTP: one reply for every route that hands out a file (`GET
 * /api/v1/files/{id}/content`, a module's own download such as a speech recording), with the
 * same conditional and range semantics everywhere (RFC 9110 §13.1.2 `If-None-Match`, §13.1.5
 * `If-Range`, §14 single byte ranges).
 */
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.js';
import { decideRange, ifNoneMatchMatches, ifRangeAllows, type RangeDecision } from './http-range.js';
import type { ByteRange } from './storage.js';

/** What {@link replyWithContent} needs of a stored file (a `file` row fits). */
export interface StoredContent {
  size_bytes: number;
  /** Lower-case hex SHA-256 of the content: the strong ETag. */
  sha256: string;
  content_type: string;
}

/**
 * Answers `request` with the file's bytes: `ETag: "<sha256>"`, `Accept-Ranges: bytes`,
 * `Cache-Control: private, no-cache` (revalidated every time, since access can be revoked; the
 * ETag makes that cheap), `304` on a matching `If-None-Match`, `206` with `Content-Range` for one
 * satisfiable range (`If-Range` honoured), the whole content otherwise, no body for `HEAD`. The
 * content is sandboxed (`Content-Security-Policy: default-src 'none'; sandbox`).
 * @param what names the content in the `416` problem's detail ("file", "recording").
 * @param disposition a `Content-Disposition` value, when the route sets one.
 * @param open opens the bytes (the whole content, or `range`).
 * @throws AppError `range_not_satisfiable` (416, with `Content-Range: bytes *\/<size>`).
 */
export async function replyWithContent(
  request: FastifyRequest,
  reply: FastifyReply,
  file: StoredContent,
  options: { what: string; disposition?: string; open(range?: ByteRange): Promise<Readable> },
): Promise<FastifyReply> {
  const size = Number(file.size_bytes);
  const etag = `"${file.sha256}"`;
  reply.header('ETag', etag).header('Accept-Ranges', 'bytes').header('Cache-Control', 'private, no-cache');
  if (ifNoneMatchMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
  const ifRange = request.headers['if-range'];
  const decision: RangeDecision = ifRangeAllows(typeof ifRange === 'string' ? ifRange : undefined, etag)
    ? decideRange(request.headers.range, size)
    : { kind: 'full' };
  if (decision.kind === 'unsatisfiable') {
    throw new AppError('range_not_satisfiable', `The range is outside the ${options.what}'s ${size} bytes.`, {
      headers: { 'Content-Range': `bytes */${size}` },
    });
  }
  reply.header('Content-Type', file.content_type);
  if (options.disposition) reply.header('Content-Disposition', options.disposition);
  // Uploaded bytes are never run as a page of this origin, whatever their declared type.
  reply.header('Content-Security-Policy', "default-src 'none'; sandbox");
  const range = decision.kind === 'partial' ? decision.range : undefined;
  if (range) {
    reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    reply.header('Content-Length', String(range.end - range.start + 1));
  } else {
    reply.header('Content-Length', String(size));
  }
  if (request.method === 'HEAD') return reply.send();
  return reply.send(await options.open(range));
}
