/** Small pieces the challenge pages share: the status badge and the safe Markdown block. */
import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { useMemo } from 'react';

/** Open / upcoming / closed, as a badge with words (colour is never the only signal). */
export function StatusBadge({ status }: { status: 'open' | 'upcoming' | 'closed' }) {
  const label = status === 'open' ? 'Open' : status === 'upcoming' ? 'Not open yet' : 'Closed';
  return <span className={`badge ${status === 'open' ? 'ok' : status === 'upcoming' ? 'warn' : 'danger'}`}>{label}</span>;
}

/**
 * Renders Markdown (CommonMark + GFM tables, task lists, strikethrough, autolinks) with
 * micromark's safe defaults: raw HTML is escaped, never rendered, and links or images with
 * dangerous protocols (`javascript:`, `data:`…) lose their URL. Headings are shifted down one
 * level so the page keeps its single `<h1>`.
 */
export function Markdown({ source }: { source: string }) {
  const html = useMemo(() => {
    const rendered = micromark(source, { extensions: [gfm()], htmlExtensions: [gfmHtml()] });
    return rendered.replace(/<(\/?)h([1-6])>/g, (_match, slash: string, level: string) => `<${slash}h${Math.min(Number(level) + 1, 6)}>`);
  }, [source]);
  // Safe: micromark escapes every HTML tag of the source (allowDangerousHtml is off).
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}
