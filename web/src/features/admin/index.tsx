/**
 * The admin dashboard (`/admin/…`, shown by permission: see `ADMIN_SECTIONS`) and the job pages
 * every signed-in user has (`/jobs`: my jobs, `/jobs/{id}`: one job live). Pages load lazily so
 * the sign-in route's JavaScript stays small.
 */
import { createRoute, lazyRouteComponent } from '@tanstack/react-router';
import type { WebFeature } from '../feature';
import { allows } from '../../api/session';
import { ADMIN_PERMISSIONS } from './common';

/** The admin feature. */
export const adminFeature: WebFeature = {
  id: 'admin',
  routes: (root) => {
    const page = (path: string, load: () => Promise<Record<string, unknown>>, name: string) =>
      createRoute({ getParentRoute: () => root, path, component: lazyRouteComponent(load as () => Promise<Record<string, React.ComponentType>>, name) });
    return [
      page('/admin', () => import('./home'), 'AdminHomePage'),
      page('/admin/users', () => import('./users'), 'UsersPage'),
      page('/admin/audit', () => import('./audit'), 'AuditPage'),
      page('/admin/queues', () => import('./queues'), 'QueuesPage'),
      page('/admin/queues/$name', () => import('./queues'), 'QueuePage'),
      page('/admin/campaigns', () => import('./campaigns'), 'CampaignsPage'),
      page('/admin/campaigns/$id', () => import('./campaigns'), 'CampaignPage'),
      page('/admin/challenges', () => import('./challenges'), 'ChallengesAdminPage'),
      page('/admin/challenges/new', () => import('./challenges'), 'NewChallengePage'),
      page('/admin/challenges/$slug', () => import('./challenges'), 'EditChallengePage'),
      page('/admin/outbox', () => import('./outbox'), 'OutboxPage'),
      page('/admin/scheduled-tasks', () => import('./scheduler'), 'ScheduledTasksPage'),
      page('/jobs', () => import('./jobs'), 'MyJobsPage'),
      page('/jobs/$id', () => import('./jobs'), 'JobPage'),
    ];
  },
  nav: [
    { to: '/jobs', label: 'My jobs', when: ({ me }) => me !== null },
    { to: '/admin', label: 'Admin', when: ({ permissions }) => ADMIN_PERMISSIONS.some((p) => allows(permissions, p)) },
  ],
};
