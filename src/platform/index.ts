/**
 * The platform features in the order their routes are mounted and their commands are listed
 * (`buildApp` and the CLI loop over these, then over the feature modules).
 */
import { accessFeature } from '../access/feature.js';
import { accountsFeature } from '../accounts/feature.js';
import { auditFeature } from '../audit/feature.js';
import { authFeature } from '../auth/feature.js';
import { operationsFeature } from '../cli/operations-feature.js';
import { filesFeature } from '../files/feature.js';
import { identitiesFeature } from '../identities/feature.js';
import { jobsFeature } from '../jobs/feature.js';
import { limitsFeature } from '../limits/feature.js';
import { metaFeature } from '../meta/feature.js';
import { mfaFeature } from '../mfa/feature.js';
import { notifyFeature } from '../notify/feature.js';
import { realtimeFeature } from '../realtime/feature.js';
import { schedulerFeature } from '../scheduler/feature.js';
import type { PlatformFeature } from './feature.js';

/** Every platform feature, in mounting and listing order. */
export const PLATFORM_FEATURES: readonly PlatformFeature[] = [
  metaFeature,
  authFeature,
  identitiesFeature,
  accountsFeature,
  accessFeature,
  mfaFeature,
  auditFeature,
  notifyFeature,
  operationsFeature,
  schedulerFeature,
  limitsFeature,
  jobsFeature,
  realtimeFeature,
  filesFeature,
];
