/** Every feature of the web app, in navigation order (one line each). */
import type { WebFeature } from './feature';
import { homeFeature } from './home';
import { authFeature } from './auth';

export const FEATURES: WebFeature[] = [homeFeature, authFeature];
