/** The home page (`/`): what this deployment is, links to the API docs and the website, sign in / sign up. */
import { createRoute, Link } from '@tanstack/react-router';
import { useMe, useMeta } from '../../api/session';
import { Loading, Page } from '../../components/ui';
import type { WebFeature } from '../feature';

function HomePage() {
  const meta = useMeta();
  const me = useMe();
  if (!meta.data) return <Loading />;
  const { app } = meta.data;
  return (
    <Page title={app.name}>
      <p className="lead">{app.description}</p>
      {me.data ? (
        <p>
          Signed in as <strong>{me.data.email}</strong>. <Link to="/account">Your account</Link>
        </p>
      ) : (
        <p className="cta row">
          <Link className="button primary" to="/sign-in">
            Sign in
          </Link>
          {meta.data.features.registration ? (
            <Link className="button plain" to="/sign-up">
              Create an account
            </Link>
          ) : null}
        </p>
      )}
      <ul className="links">
        <li>
          <a href={app.docs_url}>API documentation</a> (try requests in the browser)
        </li>
        <li>
          <a href={app.openapi_url}>OpenAPI document</a>
        </li>
        {app.site_url ? (
          <li>
            <a href={app.site_url}>Website</a>
          </li>
        ) : null}
      </ul>
      <p className="muted">Version {app.version}</p>
    </Page>
  );
}

/** The home feature. */
export const homeFeature: WebFeature = {
  id: 'home',
  routes: (root) => [createRoute({ getParentRoute: () => root, path: '/', component: HomePage })],
};
