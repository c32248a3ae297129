/** Speech practice: `/practice`, `/practice/sessions/$id`, `/practice/progress` (docs/speech.md). */
import { createRoute, lazyRouteComponent } from '@tanstack/react-router';
import type { AnyRoute } from '@tanstack/react-router';
import { requireSignIn } from '../../api/session';
import type { WebFeature } from '../feature';

export const speechFeature: WebFeature = {
  id: 'speech',
  routes: (root: AnyRoute) => [
    createRoute({ getParentRoute: () => root, path: '/practice', beforeLoad: requireSignIn, component: lazyRouteComponent(() => import('./practice-page'), 'PracticePage') }),
    createRoute({ getParentRoute: () => root, path: '/practice/sessions/$id', beforeLoad: requireSignIn, component: lazyRouteComponent(() => import('./session-page'), 'SessionPage') }),
    createRoute({ getParentRoute: () => root, path: '/practice/progress', beforeLoad: requireSignIn, component: lazyRouteComponent(() => import('./progress-page'), 'ProgressPage') }),
  ],
  nav: [{ to: '/practice', label: 'Practice', when: ({ me, meta }) => !!me && !!meta?.features.speech }],
};
