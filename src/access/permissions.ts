import { AppError } from '../shared/errors.js';

/**
 * Permissions are strings `resource:action` (e.g. `users:read`, `jobs:claim`). A grant may use
 * `*` as the action (`users:*`) or be `*` alone (everything). Roles map to built-in grants;
 * groups add grants; API key scopes narrow a user's grants (never widen them).
 */

/** Permissions Gatehouse's own routes check, with what each allows. Embedding apps may add their own strings. */
export const PERMISSIONS = {
  'account:self': 'Use your own account: profile, sessions, password, API keys, quota',
  'users:read': 'List and view any user, their sessions and login attempts',
  'users:manage': 'Change, verify, ban, unban and delete users; change roles and group memberships',
  'groups:manage': 'Create, change and delete groups and their memberships',
  'api_keys:manage': 'List and revoke any user\'s API keys',
  'audit:read': 'Read the audit log and login attempts',
  'jobs:enqueue': 'Create jobs in queues that allow it',
  'jobs:read': 'List and view your own jobs and their events',
  'jobs:control': 'Pause, resume, cancel and retry your own jobs',
  'jobs:claim': 'Claim and work on jobs (the worker protocol), with the files of the jobs held',
  'jobs:manage': 'See, pause, resume, cancel and retry every user\'s jobs',
  'files:read': 'Download and view your own files and those of your jobs',
  'files:write': 'Upload files',
  'files:manage': 'Read every stored file',
  'events:read': 'Follow live job events (SSE and WebSocket) of your own jobs',
  'queues:manage': 'Create, change, pause and resume queues',
  'scheduler:manage': 'List scheduled tasks and run one now',
  'outbox:manage': 'List notification outbox messages (without bodies) and retry undelivered ones',
} as const;

/** A permission Gatehouse itself knows. */
export type KnownPermission = keyof typeof PERMISSIONS;

/** The roles a user can have. */
export type Role = 'admin' | 'user' | 'worker';

/** What each role grants by itself. */
export const ROLE_PERMISSIONS: Record<Role, readonly string[]> = {
  admin: ['*'],
  user: ['account:self', 'jobs:enqueue', 'jobs:read', 'jobs:control', 'files:read', 'files:write', 'events:read'],
  worker: ['account:self', 'jobs:claim'],
};

/** {@link ROLE_PERMISSIONS} plus what feature modules grant each role (src/modules/registry.ts). */
export function withRoleGrants(extra: Readonly<Partial<Record<Role, readonly string[]>>>): Record<Role, readonly string[]> {
  return {
    admin: ROLE_PERMISSIONS.admin,
    user: [...ROLE_PERMISSIONS.user, ...(extra.user ?? [])],
    worker: [...ROLE_PERMISSIONS.worker, ...(extra.worker ?? [])],
  };
}

const PERMISSION_PATTERN = /^(\*|[a-z][a-z0-9_-]{0,63}:(\*|[a-z][a-z0-9_-]{0,63}))$/;

/** True when `value` is a well-formed grant (`resource:action`, `resource:*` or `*`). */
export function isValidPermission(value: string): boolean {
  return PERMISSION_PATTERN.test(value);
}

/** True when `granted` (a set of grants, possibly with wildcards) allows `needed` (a concrete permission). */
export function allows(granted: ReadonlySet<string>, needed: string): boolean {
  if (granted.has('*') || granted.has(needed)) return true;
  const colon = needed.indexOf(':');
  return colon > 0 && granted.has(`${needed.slice(0, colon)}:*`);
}

/**
 * Narrows a user's grants to an API key's scopes: a scope counts only as far as the user's own
 * grants allow it, so revoking a role or group permission also shrinks every key at once.
 * @returns concrete grants (wildcards only where both sides have them).
 */
export function intersectGrants(userGrants: ReadonlySet<string>, scopes: readonly string[]): Set<string> {
  const result = new Set<string>();
  for (const scope of scopes) {
    if (scope === '*') {
      for (const g of userGrants) result.add(g);
    } else if (scope.endsWith(':*')) {
      const resource = scope.slice(0, -2);
      if (userGrants.has('*') || userGrants.has(scope)) result.add(scope);
      else for (const g of userGrants) if (g.startsWith(`${resource}:`)) result.add(g);
    } else if (allows(userGrants, scope)) {
      result.add(scope);
    }
  }
  return result;
}

/**
 * No privilege escalation: an actor may grant (through a role, a group membership or a group's
 * permissions) only what it holds itself. `undefined` actor grants = an operator with full access.
 * @throws AppError `forbidden` naming what is missing.
 */
export function assertCanGrant(actorGrants: ReadonlySet<string> | undefined, granted: readonly string[], what: string): void {
  if (!actorGrants || scopesWithin(actorGrants, granted)) return;
  const missing = granted.filter((g) => !scopesWithin(actorGrants, [g]));
  throw new AppError('forbidden', `You cannot grant ${what}: it carries ${missing.join(', ')}, which you do not have.`);
}

/** True when every scope is covered by `userGrants` (a key may not ask for more than its owner has). */
export function scopesWithin(userGrants: ReadonlySet<string>, scopes: readonly string[]): boolean {
  return scopes.every((scope) => {
    if (scope === '*') return userGrants.has('*');
    if (scope.endsWith(':*')) return userGrants.has('*') || userGrants.has(scope);
    return allows(userGrants, scope);
  });
}
