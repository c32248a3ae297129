/**
 * The shell around every page: a skip link, the header with the app's name, the main
 * navigation (features' entries, filtered by who is signed in) and the account menu.
 */
import { Link, Outlet, useNavigate } from '@tanstack/react-router';
import { useMe, useMeta, usePermissions, useSignOut } from '../api/session';
import { FEATURES } from '../features';
import { Button } from './ui';

export function Layout() {
  const meta = useMeta();
  const me = useMe();
  const signOut = useSignOut();
  const navigate = useNavigate();
  const permissions = usePermissions();
  const context = { me: me.data ?? null, meta: meta.data, permissions: permissions.data?.permissions };
  const items = FEATURES.flatMap((feature) => feature.nav ?? []).filter((item) => !item.when || item.when(context));
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <Link to="/" className="brand">
          <img src="/favicon.svg" alt="" width="24" height="24" />
          <span>{meta.data?.app.name ?? 'Gatehouse'}</span>
        </Link>
        <nav aria-label="Main">
          <ul>
            {items.map((item) => (
              <li key={item.to}>
                <Link to={item.to} activeProps={{ 'aria-current': 'page' }}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account-menu">
          {me.data ? (
            <>
              <span className="muted" title={me.data.email}>
                {me.data.name || me.data.email}
              </span>
              <Button
                onClick={async () => {
                  await signOut();
                  await navigate({ to: '/' });
                }}
              >
                Sign out
              </Button>
            </>
          ) : me.data === null ? (
            <Link to="/sign-in">Sign in</Link>
          ) : null}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="site-footer">
        <a href="/docs">API docs</a>
        {meta.data?.app.site_url ? <a href={meta.data.app.site_url}>Website</a> : null}
        <span className="muted">v{meta.data?.app.version}</span>
      </footer>
    </>
  );
}
