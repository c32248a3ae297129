/** HTML escaping shared by the email templates and the server-rendered pages. */

/** Escapes text for HTML element and attribute content (`&`, `<`, `>`, `"`, `'`). */
export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
