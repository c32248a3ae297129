/**
 * Pieces shared by the admin pages: the section list (by permission), cursor paging with
 * Previous/Next, job-state badges and progress bars.
 */
import { Link } from '@tanstack/react-router';
import { useCallback, useState } from 'react';
import { usePermissions } from '../../api/session';
import { Button } from '../../components/ui';
import './admin.css';

/** An admin section: where it lives and the permission that shows it (any of `anyOf`). */
export interface AdminSection {
  to: string;
  label: string;
  anyOf: string[];
  description: string;
}

/** Every admin section, in menu order. */
export const ADMIN_SECTIONS: AdminSection[] = [
  { to: '/admin/users', label: 'Users', anyOf: ['users:read'], description: 'Search, filter, ban and unban users; change roles and groups.' },
  { to: '/admin/queues', label: 'Queues and jobs', anyOf: ['queues:manage', 'jobs:manage'], description: 'Pause and resume queues; follow jobs live.' },
  { to: '/admin/campaigns', label: 'Campaigns', anyOf: ['campaigns:read', 'campaigns:manage'], description: 'Progress, best value over time, runs by state and per worker.' },
  { to: '/admin/challenges', label: 'Challenges', anyOf: ['challenges:manage'], description: 'Create and edit challenges, upload resources, see submissions.' },
  { to: '/admin/audit', label: 'Audit log', anyOf: ['audit:read'], description: 'Security events: who did what, when, from where.' },
  { to: '/admin/outbox', label: 'Outbox', anyOf: ['outbox:manage'], description: 'Notifications pending, sent and failed; retry.' },
  { to: '/admin/scheduled-tasks', label: 'Scheduled tasks', anyOf: ['scheduler:manage'], description: 'Housekeeping tasks with their last and next run; run one now.' },
];

/**
 * Permissions that show the "Admin" navigation entry: every one that opens a section, except
 * `campaigns:read`, which ordinary users hold (they may still open the campaign pages).
 */
export const ADMIN_PERMISSIONS = [...new Set(ADMIN_SECTIONS.flatMap((s) => s.anyOf))].filter((p) => p !== 'campaigns:read');

/** The sections this user may open. */
export function useAdminSections(): AdminSection[] {
  const permissions = usePermissions();
  return ADMIN_SECTIONS.filter((section) => section.anyOf.some((p) => permissions.can(p)));
}

/** The admin area's secondary navigation (shown on every admin page). */
export function AdminMenu() {
  const sections = useAdminSections();
  if (!sections.length) return null;
  return (
    <nav aria-label="Admin sections" className="admin-menu">
      <ul>
        {sections.map((section) => (
          <li key={section.to}>
            <Link to={section.to} activeProps={{ 'aria-current': 'page' }}>
              {section.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/**
 * Cursor paging state for a list: the cursor of the page shown and those before it, so that
 * Previous goes back without the server knowing about it. `reset()` after a filter change.
 */
export function useCursorPager() {
  const [stack, setStack] = useState<Array<string | null>>([null]);
  const cursor = stack[stack.length - 1] ?? null;
  const next = useCallback((nextCursor: string) => setStack((s) => [...s, nextCursor]), []);
  const previous = useCallback(() => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)), []);
  const reset = useCallback(() => setStack([null]), []);
  return { cursor, page: stack.length, next, previous, reset };
}

/** Previous / Next buttons under a cursor-paged table. */
export function Pager({ pager, nextCursor, label }: { pager: ReturnType<typeof useCursorPager>; nextCursor: string | null | undefined; label: string }) {
  return (
    <nav className="pager row" aria-label={`${label} pages`}>
      <Button onClick={pager.previous} disabled={pager.page <= 1}>
        Previous page
      </Button>
      <span className="muted">Page {pager.page}</span>
      <Button onClick={() => nextCursor && pager.next(nextCursor)} disabled={!nextCursor}>
        Next page
      </Button>
    </nav>
  );
}

const STATE_TONE: Record<string, string> = {
  succeeded: 'ok',
  complete: 'ok',
  sent: 'ok',
  success: 'ok',
  active: 'ok',
  running: 'warn',
  generating: 'warn',
  paused: 'warn',
  pending: 'warn',
  failed: 'danger',
  dead: 'danger',
  failure: 'danger',
  cancelled: 'danger',
  banned: 'danger',
  deactivated: 'danger',
};

/** A state as a coloured badge (text first: colour is never the only signal). */
export function StateBadge({ state, testId }: { state: string; testId?: string }) {
  return (
    <span className={`badge ${STATE_TONE[state] ?? ''}`} data-testid={testId}>
      {state}
    </span>
  );
}

/** Percent text of a 0..1 progress value (`25 %`), without float noise. */
export function percent(progress: number): string {
  return `${Math.round(progress * 1000) / 10} %`;
}

/** A labelled progress bar with its percentage as text. */
export function ProgressBar({ value, label }: { value: number; label: string }) {
  return (
    <span className="progress-cell">
      <progress max={1} value={value} aria-label={label} />
      <span className="num">{percent(value)}</span>
    </span>
  );
}

/** JSON for people (2-space indented), in a `<pre>`. */
export function Json({ value, label, testId }: { value: unknown; label: string; testId?: string }) {
  return (
    <pre aria-label={label} tabIndex={0} data-testid={testId}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}
