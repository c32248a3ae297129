/** Every feature of the web app, in navigation order (one line each). */
import type { WebFeature } from './feature';
import { adminFeature } from './admin';
import { homeFeature } from './home';
import { speechFeature } from './speech';

export const FEATURES: WebFeature[] = [homeFeature, speechFeature, adminFeature];
