/**
 * The frame of every account page: the page's heading, the account sections' navigation (links
 * with `aria-current`, so each section has its own address) and the section itself. The routes'
 * `beforeLoad` (`requireSignIn`) sends signed-out visitors to `/sign-in?next=…`; a session that
 * ends while a page is open (signed out in the header, revoked elsewhere) shows a sign-in link.
 */
import { Link, useRouterState } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import type { Me } from '../../api/session';
import { useMe } from '../../api/session';
import { Loading, Page, ProblemAlert } from '../../components/ui';
import './account.css';

/** The account sections, in navigation order (paths under `/account`). */
export const ACCOUNT_SECTIONS = [
  { to: '/account', label: 'Profile' },
  { to: '/account/email', label: 'Email' },
  { to: '/account/password', label: 'Password' },
  { to: '/account/sessions', label: 'Sessions' },
  { to: '/account/api-keys', label: 'API keys' },
  { to: '/account/identities', label: 'Linked accounts' },
  { to: '/account/security', label: 'Two-factor & passkeys' },
  { to: '/account/data', label: 'Your data' },
] as const;

/** An account page titled `title`; `children` renders once the signed-in user is known. */
export function AccountPage({ title, children }: { title: string; children: (me: Me) => ReactNode }) {
  const me = useMe();
  const pathname = useRouterState({ select: (state) => state.location.pathname });
  if (me.error) return <ProblemAlert error={me.error} />;
  if (me.data === null) {
    return (
      <Page title="Signed out">
        <p>
          You are no longer signed in. <a href={`/sign-in?next=${encodeURIComponent(pathname)}`}>Sign in</a> to see your account.
        </p>
      </Page>
    );
  }
  if (!me.data) return <Loading />;
  return (
    <Page title={title}>
      <nav aria-label="Account sections" className="account-nav">
        <ul>
          {ACCOUNT_SECTIONS.map((section) => (
            <li key={section.to}>
              <Link to={section.to} activeOptions={{ exact: true }} aria-current={pathname.replace(/\/$/, '') === section.to ? 'page' : undefined}>
                {section.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="account-section">{children(me.data)}</div>
    </Page>
  );
}
