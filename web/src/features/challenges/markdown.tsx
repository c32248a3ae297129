/** The challenge description's Markdown block (its own module: only the detail page loads micromark). */
import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { useMemo } from 'react';

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
