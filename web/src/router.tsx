/** The route tree: the root layout with every feature's routes under it (see features/index.ts). */
import { QueryClient } from '@tanstack/react-query';
import { createRootRouteWithContext, createRouter, type ErrorComponentProps, Link } from '@tanstack/react-router';
import { Layout } from './components/layout';
import { Page, ProblemAlert } from './components/ui';
import { FEATURES } from './features';

/** Shared by the router (loaders) and the QueryClientProvider. */
export const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: (count, error) => count < 2 && !('status' in error && typeof error.status === 'number' && error.status >= 400 && error.status < 500) } },
});

function NotFound() {
  return (
    <Page title="Page not found">
      <p>There is no page at this address.</p>
      <p>
        <Link to="/">Go to the home page</Link>
      </p>
    </Page>
  );
}

function ErrorPage({ error, reset }: ErrorComponentProps) {
  return (
    <Page title="Something went wrong">
      <ProblemAlert error={error} />
      <p>
        <button type="button" className="button plain" onClick={reset}>
          Try again
        </button>
      </p>
    </Page>
  );
}

const rootRoute = createRootRouteWithContext<{ queryClient: QueryClient }>()({
  component: Layout,
  notFoundComponent: NotFound,
  errorComponent: ErrorPage,
});

const routeTree = rootRoute.addChildren(FEATURES.flatMap((feature) => feature.routes(rootRoute)));

export const router = createRouter({
  routeTree,
  context: { queryClient },
  defaultPreload: 'intent',
  scrollRestoration: true,
});
