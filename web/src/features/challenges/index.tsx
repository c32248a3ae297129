/**
 * Challenges, the participant side (issue 16): the list at `/challenges` and one challenge at
 * `/challenges/$slug` (description, resources, join, submit, my submissions with live
 * evaluation progress, leaderboard). Organisers' views belong to the admin feature.
 */
import { createRoute, lazyRouteComponent } from '@tanstack/react-router';
import type { WebFeature } from '../feature';

/** The challenges feature: shown in the navigation when the server runs the challenges module. */
export const challengesFeature: WebFeature = {
  id: 'challenges',
  routes: (root) => [
    createRoute({ getParentRoute: () => root, path: '/challenges', component: lazyRouteComponent(() => import('./list-page'), 'ChallengeListPage') }),
    createRoute({ getParentRoute: () => root, path: '/challenges/$slug', component: lazyRouteComponent(() => import('./detail-page'), 'ChallengePage') }),
  ],
  nav: [{ to: '/challenges', label: 'Challenges', when: ({ meta }) => meta?.features.challenges === true }],
};
