/**
 * Server-rendered pages that the web app (web/, served by app.routes.ts) has not replaced yet:
 * the problem-type pages (`/problems/{code}`), plus {@link sendHtmlPage} for other features'
 * readable error pages (a failed social sign-in). The auth pages (sign in and up, the pages emailed
 * links open), the account pages (`/account…`) and the job pages (`/jobs`, `/jobs/{id}`) are the
 * web app's.
 *
 * These routes stay HTTP-only and look nothing up: a page's script reads the API with the session
 * cookie; its buttons POST to the API.
 */
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { escapeHtml } from '../shared/html-escape.js';
import { AppError, findErrorDefinition } from '../shared/errors.js';

/** Options for {@link pagesRoutes}. */
export interface PagesRoutesOptions {
  appName: string;
  siteUrl: string | null;
  version: string;
}

/** Gatehouse's logo (SVG): the pages' favicon and the logo and favicon of Swagger UI at `/docs`. */
export const GATEHOUSE_LOGO_SVG = readFileSync(new URL('./assets/gatehouse.svg', import.meta.url));

const assets = {
  'pages.css': { body: readFileSync(new URL('./assets/pages.css', import.meta.url)), type: 'text/css; charset=utf-8' },
  'gatehouse.svg': { body: GATEHOUSE_LOGO_SVG, type: 'image/svg+xml' },
};

/** Extras of one page: its scripts (asset names) and a wider layout. */
interface PageOptions {
  scripts?: Array<keyof typeof assets>;
  wide?: boolean;
}

function page(title: string, content: string, options: PageOptions = {}): string {
  const scripts = (options.scripts ?? []).map((name) => `\n<script src="/assets/${name}" defer></script>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="/assets/gatehouse.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/pages.css">
</head>
<body>
<main${options.wide ? ' class="wide"' : ''}>
${content}
</main>
${scripts.trimStart()}
</body>
</html>
`;
}

function sendPage(reply: FastifyReply, title: string, content: string, options: PageOptions = {}): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .header('Referrer-Policy', 'same-origin')
    .header('Cache-Control', 'no-store')
    .send(page(title, content, options));
}

/**
 * Sends a page in Gatehouse's layout with the pages' security headers (for other features'
 * readable error pages, such as a failed social sign-in). `content` is HTML: escape what you put in.
 */
export function sendHtmlPage(reply: FastifyReply, status: number, title: string, content: string): FastifyReply {
  return sendPage(reply.code(status), title, content);
}

export const pagesRoutes: FastifyPluginAsync<PagesRoutesOptions> = async (app, _options) => {
  const hidden = { schema: { hide: true } };

  app.get<{ Params: { code: string } }>('/problems/:code', hidden, async (request, reply) => {
    const code = request.params.code;
    const entry = findErrorDefinition(code);
    if (!entry) throw new AppError('not_found', 'No such problem type.');
    return sendPage(
      reply,
      `Problem: ${code}`,
      `<h1><code>${escapeHtml(code)}</code></h1>
<p><strong>HTTP ${entry.status}</strong> — ${escapeHtml(entry.title)}.</p>
<p>Gatehouse returns this code in the <code>code</code> member of an RFC 9457 problem document. Codes are stable: clients may rely on them.</p>`,
    );
  });

  app.get<{ Params: { name: string } }>('/assets/:name', hidden, async (request, reply) => {
    // Own keys only: `__proto__`, `constructor` or `toString` must be a 404, not an inherited member.
    const name = request.params.name;
    if (!Object.hasOwn(assets, name)) throw new AppError('not_found', 'No such asset.');
    const asset = assets[name as keyof typeof assets];
    return reply.type(asset.type).header('Cache-Control', 'public, max-age=3600').send(asset.body);
  });
};
