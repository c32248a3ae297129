/** Every feature of the web app, in navigation order (one line each). */
import type { WebFeature } from './feature';
import { homeFeature } from './home';

export const FEATURES: WebFeature[] = [homeFeature];
