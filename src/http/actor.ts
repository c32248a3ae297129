/** Builds the audit-log actor context of a request. */
import type { FastifyRequest } from 'fastify';
import type { ActorContext } from '../audit/audit.service.js';

/** Who is acting (the principal, if any) and from where (IP, user agent). */
export function actorOf(request: FastifyRequest): ActorContext {
  const ua = request.headers['user-agent'];
  return {
    actorId: request.principal?.user.id ?? null,
    ip: request.ip ?? null,
    userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null,
    permissions: request.principal?.permissions,
  };
}
