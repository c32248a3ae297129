/**
 * A feature of the web app: its routes (children of the root layout) and its entries in the
 * main navigation. One folder per feature under `features/`, one line per feature in
 * `features/index.ts`: pages of one area never edit another's files.
 */
import type { AnyRoute } from '@tanstack/react-router';
import type { Me, Meta } from '../api/session';

/** What decides whether a navigation entry shows. */
export interface NavContext {
  me: Me | null;
  meta: Meta | undefined;
  /** The signed-in user's effective permissions (`GET /users/me/permissions`); undefined while loading or signed out. */
  permissions: string[] | undefined;
}

/** An entry of the main navigation. */
export interface NavItem {
  to: string;
  label: string;
  /** Shown only when this returns true (default: always). */
  when?: (context: NavContext) => boolean;
}

/** One area of the app. `routes` builds its routes under the root route (lazy components keep the first load small). */
export interface WebFeature {
  id: string;
  routes: (root: AnyRoute) => AnyRoute[];
  nav?: NavItem[];
}
