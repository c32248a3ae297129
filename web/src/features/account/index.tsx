/**
 * The account area (`/account…`, signed in): profile, email, password, sessions, API keys, linked
 * accounts, two-factor and passkeys, your data. Each section is its own route, loaded on demand;
 * a signed-out visitor is redirected to `/sign-in?next=<the page>` before it loads.
 */
import { createRoute, lazyRouteComponent } from '@tanstack/react-router';
import { requireSignIn } from '../../api/session';
import type { WebFeature } from '../feature';

/** The account feature. */
export const accountFeature: WebFeature = {
  id: 'account',
  routes: (root) => [
    createRoute({ getParentRoute: () => root, beforeLoad: requireSignIn, path: '/account', component: lazyRouteComponent(() => import('./profile'), 'ProfilePage') }),
    createRoute({ getParentRoute: () => root, beforeLoad: requireSignIn, path: '/account/email', component: lazyRouteComponent(() => import('./credentials'), 'EmailPage') }),
    createRoute({ getParentRoute: () => root, beforeLoad: requireSignIn, path: '/account/password', component: lazyRouteComponent(() => import('./credentials'), 'PasswordPage') }),
    createRoute({ getParentRoute: () => root, beforeLoad: requireSignIn, path: '/account/sessions', component: lazyRouteComponent(() => import('./sessions'), 'SessionsPage') }),
    createRoute({ getParentRoute: () => root, beforeLoad: requireSignIn, path: '/account/api-keys', component: lazyRouteComponent(() => import('./api-keys'), 'ApiKeysPage') }),
    createRoute({ getParentRoute: () => root, beforeLoad: requireSignIn, path: '/account/identities', component: lazyRouteComponent(() => import('./identities'), 'IdentitiesPage') }),
    createRoute({ getParentRoute: () => root, beforeLoad: requireSignIn, path: '/account/security', component: lazyRouteComponent(() => import('./security'), 'SecurityPage') }),
    createRoute({ getParentRoute: () => root, beforeLoad: requireSignIn, path: '/account/data', component: lazyRouteComponent(() => import('./data'), 'DataPage') }),
  ],
  nav: [{ to: '/account', label: 'Account', when: ({ me }) => me !== null }],
};
