/**
 * Server-rendered pages that the web app (web/, served by app.routes.ts) has not replaced yet:
 * the account security page (`/account/security`: TOTP enrolment, passkeys) and the problem-type
 * pages (`/problems/{code}`), plus
 * {@link sendHtmlPage} for other features' readable error pages (a failed social sign-in). The
 * auth pages (sign in and up, the pages emailed links open) and the job pages (`/jobs`,
 * `/jobs/{id}`) are the web app's.
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
  'webauthn.js': {
    body: readFileSync(new URL('./assets/webauthn.js', import.meta.url)),
    type: 'text/javascript; charset=utf-8',
  },
  'security.js': {
    body: readFileSync(new URL('./assets/security.js', import.meta.url)),
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

export const pagesRoutes: FastifyPluginAsync<PagesRoutesOptions> = async (app, _options) => {
  const hidden = { schema: { hide: true } };

  app.get('/account/security', hidden, async (_request, reply) =>
    sendPage(
      reply,
      'Account security',
      `<h1>Account security</h1>
<section>
<h2>Two-factor authentication</h2>
<p id="totp-status">…</p>
<button type="button" id="totp-start" hidden>Set up an authenticator app</button>
<div id="totp-setup" hidden>
<p>Scan this code with your authenticator app (or type the key), then enter the 6-digit code it shows.</p>
<div id="totp-qr" class="qr"></div>
<p>Key: <code id="totp-secret"></code></p>
<form id="totp-confirm-form">
<label for="totp-code">Code from the app</label>
<input id="totp-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="16" required>
<button type="submit">Turn on</button>
</form>
</div>
<div id="recovery-codes-box" hidden>
<h2>Recovery codes</h2>
<p>Each works once, if you lose your device. They are shown only now.</p>
<ul id="recovery-codes" class="codes"></ul>
</div>
</section>
<section>
<h2>Passkeys</h2>
<p>Sign in without a password, with your device's screen lock or a security key.</p>
<ul id="passkey-list" class="links"></ul>
<p id="passkeys-empty" hidden>No passkeys yet.</p>
<label for="passkey-name">Name of the new passkey</label>
<input id="passkey-name" name="name" type="text" maxlength="100" placeholder="e.g. Laptop">
<button type="button" id="passkey-add">Add a passkey</button>
</section>
${statusBox}`,
      { scripts: ['webauthn.js', 'security.js'] },
    ),
  );

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
