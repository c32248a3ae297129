/**
 * Serves the built web app (web/, built by `npm run build:web` into dist/app/) at `/`:
 * - `/static/*`: Vite's content-hashed files, immutable for a year, sent precompressed (`.br`,
 *   `.gz` siblings written by the build) when the client accepts it;
 * - every other GET that is not the server's own (`/api/`, `/docs`, `/openapi.json`, `/healthz`,
 *   `/readyz`, `/problems/`, `/assets/`, `/.well-known/`) gets `index.html`, so client-side routes such
 *   as `/challenges/demo` survive a reload. `index.html` is revalidated on every load
 *   (`no-cache`) so a new deployment's files are picked up at once.
 *
 * The page runs under a strict Content Security Policy: scripts and styles from this origin
 * only, no inline script, no `eval`; `blob:` media for recordings played back in the browser.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { AppError } from '../shared/errors.js';

/** Where `npm run build:web` writes the app: dist/app at the package root (this file is src/web or dist/web). */
export const WEB_APP_DIR = fileURLToPath(new URL('../../dist/app/', import.meta.url));

/** The web app's Content-Security-Policy. */
export const WEB_APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Paths the server answers itself: never the app's `index.html`, a 404 problem when nothing matched. */
const SERVER_PATHS = /^\/(?:api(?:\/|$)|docs(?:\/|$)|openapi\.json$|healthz$|readyz$|problems\/|assets\/|static\/|\.well-known\/)/;

/** Options for {@link webAppRoutes}. */
export interface WebAppRoutesOptions {
  /** The built app's directory (default {@link WEB_APP_DIR}). */
  dir?: string;
}

/** Served instead of the app when it was never built (a checkout without `npm install`'s build). */
const NOT_BUILT_HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Web app not built</title></head>
<body><main><h1>The web app is not built</h1><p>Run <code>npm run build</code> (or <code>npm install</code>, which builds it) and restart the server. The API works meanwhile: see <a href="/docs">/docs</a>.</p></main></body></html>`;

/**
 * Registers the web app's routes. When `dir` holds no `index.html`, logs a warning and every app
 * page explains how to build it (the API is unaffected).
 */
export const webAppRoutes: FastifyPluginAsync<WebAppRoutesOptions> = async (app, options) => {
  const dir = options.dir ?? WEB_APP_DIR;
  const indexFile = join(dir, 'index.html');
  const built = existsSync(indexFile);
  if (!built) app.log.warn({ path: indexFile }, 'the web app is not built: run `npm run build`');
  const indexHtml = built ? readFileSync(indexFile) : Buffer.from(NOT_BUILT_HTML);
  const hidden = { schema: { hide: true } };

  if (built) await app.register(fastifyStatic, {
    root: join(dir, 'static'),
    prefix: '/static/',
    preCompressed: true,
    immutable: true,
    maxAge: '365d',
    index: false,
    decorateReply: false,
    schemaHide: true,
  });
  for (const name of ['favicon.svg']) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    const body = readFileSync(file);
    app.get(`/${name}`, hidden, async (_request, reply) => reply.type('image/svg+xml').header('Cache-Control', 'public, max-age=86400').send(body));
  }

  const sendIndex = (reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('Content-Security-Policy', WEB_APP_CSP)
      .header('Referrer-Policy', 'same-origin')
      .header('X-Content-Type-Options', 'nosniff')
      .header('Cache-Control', 'no-cache')
      .send(indexHtml);

  app.get('/', hidden, async (_request, reply) => sendIndex(reply));
  app.get('/*', hidden, async (request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '/';
    if (SERVER_PATHS.test(path)) throw new AppError('not_found', `No route for ${request.method} ${path}.`);
    return sendIndex(reply);
  });
};
