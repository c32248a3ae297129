/**
 * What the server offers, in one phrase: the index page and the OpenAPI description say it.
 * Plain text without markup characters, so it is safe in HTML and Markdown alike.
 */
export const PRODUCT_SUMMARY =
  'accounts and sessions, access control (roles, groups, API keys, rate limits and quotas), jobs and remote workers, files, live events (Server-Sent Events and WebSocket) and notifications';
