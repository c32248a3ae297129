/**
 * Where the auth pages send people, and the secrets they read from emailed links.
 * - {@link safeNext}: `?next=` is honoured only for a path of this site (never `//host`, never
 *   another origin), so a crafted sign-in link cannot send a person elsewhere.
 * - {@link useGoTo}: a path the app knows is a client-side navigation; any other path of this site
 *   (a server-rendered page, `/docs`) is a full page load.
 * - {@link useUrlSecret}: reads `?token=` (or another parameter) once and takes it out of the
 *   address bar, so it stays out of history, bookmarks and later `Referer` headers.
 */
import { useRouter } from '@tanstack/react-router';
import { useEffect, useState } from 'react';

/**
 * The same-origin path (`/path?query#hash`) that `asked` names, or `fallback` (default `/`) when
 * it is missing, malformed, protocol-relative (`//evil.example`) or on another origin.
 */
export function safeNext(asked: string | null | undefined, fallback = '/'): string {
  if (!asked) return fallback;
  const relative = /^\/(?![/\\])/.test(asked);
  if (!relative && !asked.startsWith(`${window.location.origin}/`)) return fallback;
  try {
    const target = new URL(asked, window.location.origin);
    if (target.origin !== window.location.origin) return fallback;
    return `${target.pathname}${target.search}${target.hash}`;
  } catch {
    return fallback;
  }
}

/** `?next=` of the current address, made safe with {@link safeNext}. */
export function nextFromLocation(): string {
  return safeNext(new URLSearchParams(window.location.search).get('next'));
}

/** A navigator to a same-origin path: client-side when the app has the route, else a page load. */
export function useGoTo(): (path: string, options?: { replace?: boolean }) => void {
  const router = useRouter();
  return (path, options) => {
    const pathname = new URL(path, window.location.origin).pathname;
    const [, rawParams, found] = router.getMatchedRoutes(pathname);
    // As the router decides "not found": no route, or only a splat catching the rest.
    const known = found ? !(found.path !== '/' && rawParams['**']) : pathname === '/';
    if (known) void router.navigate({ href: path, replace: options?.replace });
    else if (options?.replace) window.location.replace(path);
    else window.location.assign(path);
  };
}

/**
 * The value of query parameter `name` when the page was opened (`null` when absent); removes it
 * from the address bar (other parameters stay) without a new history entry.
 */
export function useUrlSecret(name: string): string | null {
  const router = useRouter();
  const [value] = useState(() => new URLSearchParams(window.location.search).get(name));
  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    if (!params.has(name)) return;
    params.delete(name);
    const rest = params.toString();
    router.history.replace(`${window.location.pathname}${rest ? `?${rest}` : ''}${window.location.hash}`);
  }, [name, router]);
  return value;
}
