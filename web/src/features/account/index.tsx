/**
 * The account area (`/account…`, signed in): profile, email, password, sessions, API keys, linked
 * accounts, two-factor and passkeys, your data. Each section is its own route, loaded on demand.
 */
import { createRoute, lazyRouteComponent } from '@tanstack/react-router';
import type { WebFeature } from '../feature';

/** The account feature. */
export const accountFeature: WebFeature = {
  id: 'account',
  routes: (root) => [
    createRoute({ getParentRoute: () => root, path: '/account', component: lazyRouteComponent(() => import('./profile'), 'ProfilePage') }),
    createRoute({ getParentRoute: () => root, path: '/account/email', component: lazyRouteComponent(() => import('./credentials'), 'EmailPage') }),
    createRoute({ getParentRoute: () => root, path: '/account/password', component: lazyRouteComponent(() => import('./credentials'), 'PasswordPage') }),
    createRoute({ getParentRoute: () => root, path: '/account/sessions', component: lazyRouteComponent(() => import('./sessions'), 'SessionsPage') }),
    createRoute({ getParentRoute: () => root, path: '/account/api-keys', component: lazyRouteComponent(() => import('./api-keys'), 'ApiKeysPage') }),
    createRoute({ getParentRoute: () => root, path: '/account/identities', component: lazyRouteComponent(() => import('./identities'), 'IdentitiesPage') }),
    createRoute({ getParentRoute: () => root, path: '/account/security', component: lazyRouteComponent(() => import('./security'), 'SecurityPage') }),
    createRoute({ getParentRoute: () => root, path: '/account/data', component: lazyRouteComponent(() => import('./data'), 'DataPage') }),
  ],
  nav: [{ to: '/account', label: 'Account', when: ({ me }) => me !== null }],
};
