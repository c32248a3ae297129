/**
 * Server-rendered pages: the index, and the pages emailed links open (verify email, confirm an
 * email change, reset password) plus the forgot-password form. The link pages never act on GET — mail scanners
 * prefetch links — the person presses a button, which POSTs to the API.
 */
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { escapeHtml } from '../mail/templates.js';
import { AppError, type ErrorCode, errorCatalogue } from '../shared/errors.js';

/** Options for {@link pagesRoutes}. */
export interface PagesRoutesOptions {
  appName: string;
  siteUrl: string | null;
  version: string;
}

const assets = {
  'pages.js': {
    body: readFileSync(new URL('./assets/pages.js', import.meta.url)),
    type: 'text/javascript; charset=utf-8',
  },
  'pages.css': { body: readFileSync(new URL('./assets/pages.css', import.meta.url)), type: 'text/css; charset=utf-8' },
};

function page(title: string, content: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/pages.css">
</head>
<body>
<main>
${content}
</main>
<script src="/assets/pages.js" defer></script>
</body>
</html>
`;
}

function sendPage(reply: FastifyReply, title: string, content: string): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .header('Referrer-Policy', 'same-origin')
    .header('Cache-Control', 'no-store')
    .send(page(title, content));
}

const statusBox = '<p id="status" class="status" role="status" aria-live="polite" hidden></p>';

export const pagesRoutes: FastifyPluginAsync<PagesRoutesOptions> = async (app, options) => {
  const hidden = { schema: { hide: true } };

  app.get('/', hidden, async (_request, reply) => {
    const site = options.siteUrl
      ? `<li><a href="${escapeHtml(options.siteUrl)}">Project website</a></li>`
      : '';
    return sendPage(
      reply,
      options.appName,
      `<h1>${escapeHtml(options.appName)}</h1>
<p>This server is running (version ${escapeHtml(options.version)}). Accounts, sessions and tokens are served under <code>/api/v1</code>.</p>
<ul class="links">
<li><a href="/docs">Interactive API documentation</a></li>
<li><a href="/openapi.json">OpenAPI 3.1 document</a></li>
<li><a href="/.well-known/jwks.json">Token signing keys (JWKS)</a></li>
<li><a href="/forgot-password">Forgot your password?</a></li>
${site}
</ul>`,
    );
  });

  app.get('/verify-email', hidden, async (_request, reply) =>
    sendPage(
      reply,
      'Confirm your email',
      `<h1>Confirm your email address</h1>
<p>Press the button to confirm that this email address is yours.</p>
<form id="verify-form"><button type="submit">Confirm my email</button></form>
${statusBox}`,
    ),
  );

  app.get('/confirm-email', hidden, async (_request, reply) =>
    sendPage(
      reply,
      'Confirm your new email',
      `<h1>Confirm your new email address</h1>
<p>Press the button to confirm that this email address is yours and make it your account's address.</p>
<form id="confirm-email-form"><button type="submit">Confirm my new email</button></form>
${statusBox}`,
    ),
  );

  app.get('/reset-password', hidden, async (_request, reply) =>
    sendPage(
      reply,
      'Choose a new password',
      `<h1>Choose a new password</h1>
<p>At least 10 characters; a long phrase is easiest to remember. You will be signed out everywhere.</p>
<form id="reset-form">
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="10" maxlength="256" required>
<label for="confirm">Repeat the new password</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="10" maxlength="256" required>
<button type="submit">Set new password</button>
</form>
${statusBox}`,
    ),
  );

  app.get('/forgot-password', hidden, async (_request, reply) =>
    sendPage(
      reply,
      'Forgot your password?',
      `<h1>Forgot your password?</h1>
<p>Enter your account's email address and we will send you a link to choose a new password.</p>
<form id="forgot-form">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="email" maxlength="254" required>
<button type="submit">Send the link</button>
</form>
${statusBox}`,
    ),
  );

  app.get<{ Params: { code: string } }>('/problems/:code', hidden, async (request, reply) => {
    const code = request.params.code;
    if (!Object.hasOwn(errorCatalogue, code)) throw new AppError('not_found', 'No such problem type.');
    const entry = errorCatalogue[code as ErrorCode];
    return sendPage(
      reply,
      `Problem: ${code}`,
      `<h1><code>${escapeHtml(code)}</code></h1>
<p><strong>HTTP ${entry.status}</strong> — ${escapeHtml(entry.title)}.</p>
<p>Gatehouse returns this code in the <code>code</code> member of an RFC 9457 problem document. Codes are stable: clients may rely on them.</p>`,
    );
  });

  app.get<{ Params: { name: string } }>('/assets/:name', hidden, async (request, reply) => {
    const asset = assets[request.params.name as keyof typeof assets];
    if (!asset) throw new AppError('not_found');
    return reply.type(asset.type).header('Cache-Control', 'public, max-age=3600').send(asset.body);
  });
};
