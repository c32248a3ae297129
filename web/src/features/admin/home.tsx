/** `/admin`: the sections this user may open. */
import { Link } from '@tanstack/react-router';
import { useMe, usePermissions } from '../../api/session';
import { Loading, Page } from '../../components/ui';
import { useAdminSections } from './common';

export function AdminHomePage() {
  const me = useMe();
  const permissions = usePermissions();
  const sections = useAdminSections();
  if (me.data === undefined || (me.data && permissions.isPending)) return <Loading />;
  return (
    <Page title="Administration">
      {sections.length === 0 ? (
        <p>{me.data ? 'Your account has no administration permissions.' : 'Sign in with an administrator account to see this page.'}</p>
      ) : (
        <ul className="section-list">
          {sections.map((section) => (
            <li key={section.to} className="card">
              <h2>
                <Link to={section.to}>{section.label}</Link>
              </h2>
              <p className="muted">{section.description}</p>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
