/**
 * Server-rendered pages that the web app (web/, served by app.routes.ts) has not replaced yet:
 * the job pages (`/jobs`, `/jobs/{id}`) and the problem-type pages (`/problems/{code}`), plus
 * {@link sendHtmlPage} for other features' readable error pages (a failed social sign-in). The
 * auth pages (sign in and up, the pages emailed links open) and the account pages
 * (`/account…`, including `/account/security`) are the web app's.
 *
 * These routes stay HTTP-only and look nothing up: a page's script reads the API with the session
 * cookie (the job page follows the job live over `/api/v1/events`); its buttons POST to the API.
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
  'jobs.js': {
    body: readFileSync(new URL('./assets/jobs.js', import.meta.url)),
    type: 'text/javascript; charset=utf-8',
  },
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

const statusBox = '<p id="status" class="status" role="status" aria-live="polite" hidden></p>';

/** A job id as the API issues them (UUID); anything else is not a job page. */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const pagesRoutes: FastifyPluginAsync<PagesRoutesOptions> = async (app, _options) => {
  const hidden = { schema: { hide: true } };

  app.get('/jobs', hidden, async (_request, reply) =>
    sendPage(
      reply,
      'Your jobs',
      `<h1>Your jobs</h1>
<div id="jobs-list" hidden>
<table class="jobs">
<thead><tr><th>Job</th><th>Queue</th><th>Kind</th><th>State</th><th>Progress</th><th>Created</th></tr></thead>
<tbody id="jobs-rows"></tbody>
</table>
<p id="jobs-empty" hidden>No jobs yet.</p>
</div>
${statusBox}`,
      { scripts: ['jobs.js'], wide: true },
    ),
  );

  app.get<{ Params: { id: string } }>('/jobs/:id', hidden, async (request, reply) => {
    const id = request.params.id;
    if (!JOB_ID.test(id)) throw new AppError('not_found', 'No such job.');
    const button = (action: string, label: string) =>
      `<button type="button" data-action="${action}" hidden>${label}</button>`;
    return sendPage(
      reply,
      'Job',
      `<h1>Job <code>${escapeHtml(id.toLowerCase())}</code></h1>
<div id="job" data-job-id="${escapeHtml(id.toLowerCase())}" hidden>
<dl class="fields">
<dt>Queue</dt><dd id="job-queue"></dd>
<dt>Kind</dt><dd id="job-kind"></dd>
<dt>State</dt><dd><span id="job-state" class="state"></span></dd>
<dt>Attempt</dt><dd id="job-attempt"></dd>
<dt>Created</dt><dd id="job-created_at"></dd>
<dt>Started</dt><dd id="job-started_at"></dd>
<dt>Last heartbeat</dt><dd id="job-heartbeat_at"></dd>
<dt>Finished</dt><dd id="job-finished_at"></dd>
</dl>
<div class="progress">
<progress id="job-progress" max="1" value="0" aria-label="Progress"></progress>
<span id="job-progress-text">0 %</span>
</div>
<p id="job-progress-message" class="progress-message"></p>
<section id="job-metrics-box" hidden><h2>Metrics</h2><dl id="job-metrics" class="fields"></dl></section>
<section id="job-result-box" hidden><h2>Result</h2><pre id="job-result"></pre></section>
<section id="job-error-box" hidden><h2>Error</h2><pre id="job-error"></pre></section>
<section id="job-files-box" hidden><h2>Output files</h2><ul id="job-files" class="links"></ul></section>
<div class="actions">${button('pause', 'Pause')} ${button('resume', 'Resume')} ${button('cancel', 'Cancel')} ${button('retry', 'Retry')}</div>
<h2>Events <small id="live" class="live">connecting…</small></h2>
<ol id="job-events" class="events"></ol>
</div>
${statusBox}`,
      { scripts: ['jobs.js'], wide: true },
    );
  });

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
