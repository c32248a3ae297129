/**
 * The auth pages: sign in (password, TOTP step, passkey, social providers), sign up, the pages
 * emailed links open (verify email, confirm an email change, reset password, link a provider
 * account), forgot password, and the social sign-in's linking step. Each page is its own lazy
 * chunk, so `/sign-in` loads only what it needs.
 */
import { createRoute, lazyRouteComponent } from '@tanstack/react-router';
import type { WebFeature } from '../feature';
import './auth.css';

const pages = {
  '/sign-in': lazyRouteComponent(() => import('./sign-in'), 'SignInPage'),
  '/sign-up': lazyRouteComponent(() => import('./sign-up'), 'SignUpPage'),
  '/verify-email': lazyRouteComponent(() => import('./email-links'), 'VerifyEmailPage'),
  '/confirm-email': lazyRouteComponent(() => import('./email-links'), 'ConfirmEmailPage'),
  '/link-account': lazyRouteComponent(() => import('./email-links'), 'LinkAccountPage'),
  '/forgot-password': lazyRouteComponent(() => import('./password'), 'ForgotPasswordPage'),
  '/reset-password': lazyRouteComponent(() => import('./password'), 'ResetPasswordPage'),
};

/** The auth feature (no navigation entries: the header's "Sign in" link and the home page lead here). */
export const authFeature: WebFeature = {
  id: 'auth',
  routes: (root) => Object.entries(pages).map(([path, component]) => createRoute({ getParentRoute: () => root, path, component })),
};
