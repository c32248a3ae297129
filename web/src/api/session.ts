/**
 * Who is signed in, and what this deployment offers: the two queries every page reads.
 * `useMe()` is `null` when nobody is signed in (the API answered 401), never an error page.
 */
import { type QueryClient, useQuery, useQueryClient } from '@tanstack/react-query';
import { redirect } from '@tanstack/react-router';
import { api, isApiError } from './client';

/** The signed-in user as `GET /api/v1/users/me` returns it (fields the shell needs; pages read more). */
export interface Me {
  id: string;
  email: string;
  name: string;
  email_verified: boolean;
  role: 'user' | 'admin' | 'worker';
  profile: Record<string, unknown>;
  created_at: string;
  /** False for an account made by a provider or passkey sign-in: it re-authenticates by signing in again. */
  has_password: boolean;
}

/** `GET /api/v1/meta`: what a frontend needs to know about this deployment. */
export interface Meta {
  app: { name: string; description: string; version: string; site_url: string | null; docs_url: string; openapi_url: string };
  providers: Array<{ name: string; display_name: string }>;
  features: Record<string, boolean>;
  limits: Record<string, number>;
}

/** Query key of {@link useMe}; invalidate it after sign-in, sign-out and profile changes. */
export const ME_KEY = ['me'] as const;

/** `GET /users/me`, or null when nobody is signed in (401). */
async function fetchMe(): Promise<Me | null> {
  try {
    return await api<Me>('/users/me');
  } catch (error) {
    if (isApiError(error, 401)) return null;
    throw error;
  }
}

/** The signed-in user, `null` when signed out; `undefined` while loading. */
export function useMe() {
  return useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 30_000 });
}

/**
 * A route's `beforeLoad` for pages that need a signed-in user: resolves the user (from the cache
 * when fresh) or redirects to `/sign-in?next=<this page>`.
 */
export async function requireSignIn({ context, location }: { context: { queryClient: QueryClient }; location: { href: string } }): Promise<{ me: Me }> {
  const me = await context.queryClient.fetchQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 30_000 });
  if (!me) throw redirect({ href: `/sign-in?next=${encodeURIComponent(location.href)}` });
  return { me };
}

/** This deployment's name, version, providers, features and limits (cached for the tab's life). */
export function useMeta() {
  return useQuery({ queryKey: ['meta'], queryFn: () => api<Meta>('/meta'), staleTime: Infinity });
}

/**
 * Signs out (`POST /api/v1/auth/logout`): the signed-in user becomes `null` at once for every
 * mounted component, and every other cached query (the user's data) is dropped.
 */
export function useSignOut() {
  const client = useQueryClient();
  return async () => {
    try {
      await api('/auth/logout', { method: 'POST' });
    } finally {
      // Update `me` in place (its observers re-render); `clear()` would detach them from the cache.
      client.setQueryData(ME_KEY, null);
      client.removeQueries({ predicate: (query) => query.queryKey[0] !== ME_KEY[0] && query.queryKey[0] !== 'meta' });
    }
  };
}

/** `GET /api/v1/users/me/permissions`: what the signed-in user may do. */
export interface MyPermissions {
  role: 'user' | 'admin' | 'worker';
  groups: string[];
  /** Grants, possibly wildcards (`*`, `resource:*`); test them with {@link allows}. */
  permissions: string[];
}

/**
 * True when `granted` allows `needed` (a concrete permission such as `users:manage`): the same
 * rule as the server's (`*` allows everything, `users:*` every `users:` action).
 */
export function allows(granted: readonly string[] | undefined, needed: string): boolean {
  if (!granted) return false;
  if (granted.includes('*') || granted.includes(needed)) return true;
  const colon = needed.indexOf(':');
  return colon > 0 && granted.includes(`${needed.slice(0, colon)}:*`);
}

/**
 * The signed-in user's effective permissions (role + groups), `null` when signed out. Use it to
 * show only what the user may do; the server still checks every call. Cached with {@link ME_KEY}
 * as prefix, so signing in or out refreshes it.
 */
export function usePermissions() {
  const me = useMe();
  const query = useQuery({
    queryKey: [...ME_KEY, 'permissions', me.data?.id],
    queryFn: () => api<MyPermissions>('/users/me/permissions'),
    enabled: Boolean(me.data),
    staleTime: 30_000,
  });
  return {
    ...query,
    data: me.data === null ? null : query.data,
    /** True when the user holds `needed`. */
    can: (needed: string) => allows(query.data?.permissions, needed),
  };
}
