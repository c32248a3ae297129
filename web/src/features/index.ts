/** Every feature of the web app, in navigation order (one import and one array line each). */
import { accountFeature } from './account';
import { adminFeature } from './admin';
import { authFeature } from './auth';
import { challengesFeature } from './challenges';
import type { WebFeature } from './feature';
import { homeFeature } from './home';
import { speechFeature } from './speech';

export const FEATURES: WebFeature[] = [
  homeFeature,
  authFeature,
  challengesFeature,
  speechFeature,
  accountFeature,
  adminFeature,
];
