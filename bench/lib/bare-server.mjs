/**
 * The baseline of the HTTP figures, run as a process of its own like Gatehouse:
 * `node bench/lib/bare-server.mjs` with PORT, LOG_LEVEL and BARE_BODY_BYTES set. One route,
 * `GET /`, answers a JSON object whose serialised size is BARE_BODY_BYTES (the size of
 * Gatehouse's `GET /api/v1/users/me` answer), through Fastify with Gatehouse's own production
 * logger (dist/shared/logger.js: pino JSON on stdout, redaction, request serializer), so both
 * servers pay the same request logging at the same level. Plain JavaScript: no loader to start.
 */
import Fastify from 'fastify';
import { createLogger } from '../../dist/shared/logger.js';

const port = Number(process.env.PORT ?? 0);
const bytes = Number(process.env.BARE_BODY_BYTES ?? 17);
const skeleton = JSON.stringify({ hello: '' });
const body = { hello: 'x'.repeat(Math.max(0, bytes - skeleton.length)) };

const app = Fastify({ loggerInstance: createLogger({ level: process.env.LOG_LEVEL ?? 'info', pretty: false }) });
app.get(
  '/',
  { schema: { response: { 200: { type: 'object', properties: { hello: { type: 'string' } } } } } },
  async () => body,
);
await app.listen({ host: '127.0.0.1', port });
const stop = () => void app.close().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
