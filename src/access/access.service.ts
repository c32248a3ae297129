/**
 * Who may do what: a user's effective permissions and policy (from their role and groups), and
 * the management of groups and memberships.
 *
 * Policy values combine "most generous wins" across a user's groups, falling back to the
 * configured defaults; `0` means unlimited (quotas, API key lifetime) or never (session expiry).
 */
import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { ActorContext, AuditLog } from '../audit/audit.service.js';
import { isUniqueViolation } from '../db/executor.js';
import type { Database, GroupRow, UserRow } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { AuthCache } from '../sessions/auth-cache.js';
import type { AuthChanges } from '../sessions/auth-changes.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import type { UserDirectory } from '../accounts/user-directory.service.js';
import {
  addMember,
  deleteGroup,
  findGroup,
  insertGroup,
  listGroups,
  listGroupsOfUser,
  removeMember,
  updateGroup,
} from './groups.repo.js';
import { assertCanGrant, isValidPermission, type Role, ROLE_PERMISSIONS, scopesWithin } from './permissions.js';
import type { GroupView } from './access.views.js';

/** What a user may do and the limits that apply to them. */
export interface EffectiveAccess {
  permissions: ReadonlySet<string>;
  /** Names of the user's groups. */
  groups: string[];
  /** Session lifetime in seconds; 0 = sessions never expire. */
  sessionTtlSeconds: number;
  /** Longest API key lifetime in seconds; 0 = non-expiring keys allowed. */
  apiKeyMaxTtlSeconds: number;
  /** API calls per hour / per day; 0 = unlimited. */
  quotaPerHour: number;
  quotaPerDay: number;
  /** Bytes of stored files the user may own (uploads beyond get `413 storage_quota_exceeded`); 0 = unlimited. */
  storageQuotaBytes: number;
  /** True when one of the user's groups sets `require_mfa`: until TOTP is on, only enrolment is allowed. */
  requireMfa: boolean;
}

/** Defaults that apply when no group of the user sets a value. */
export interface AccessDefaults {
  sessionTtlSeconds: number;
  apiKeyMaxTtlSeconds: number;
  quotaPerHour: number;
  quotaPerDay: number;
  /** STORAGE_QUOTA_BYTES. */
  storageQuotaBytes: number;
}

export type { GroupView };

/** Fields of a group that can be set on create/update. */
export interface GroupInput {
  name?: string | undefined;
  description?: string | undefined;
  permissions?: string[] | undefined;
  session_ttl_seconds?: number | null | undefined;
  api_key_max_ttl_seconds?: number | null | undefined;
  quota_per_hour?: number | null | undefined;
  quota_per_day?: number | null | undefined;
  storage_quota_bytes?: number | null | undefined;
  require_mfa?: boolean | undefined;
}

/** Converts a row to its API view. */
export function toGroupView(row: GroupRow): GroupView {
  return { ...row, permissions: JSON.parse(row.permissions) as string[], require_mfa: Number(row.require_mfa) === 1 };
}

/** "Most generous wins" where 0 means unlimited. */
function mostGenerous(values: Array<number | null>, fallback: number): number {
  const set = values.filter((v): v is number => v !== null);
  if (set.length === 0) return fallback;
  return set.includes(0) ? 0 : Math.max(...set);
}

const GROUP_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** A group's policy fields and the effective-access value each one feeds. */
const POLICY_FIELDS = [
  ['session_ttl_seconds', 'sessionTtlSeconds', 'never-expiring sessions', 'a session lifetime'],
  ['api_key_max_ttl_seconds', 'apiKeyMaxTtlSeconds', 'API keys without expiry', 'an API key lifetime'],
  ['quota_per_hour', 'quotaPerHour', 'an unlimited hourly quota', 'an hourly quota'],
  ['quota_per_day', 'quotaPerDay', 'an unlimited daily quota', 'a daily quota'],
] as const;

/** Options for {@link AccessService}. */
export interface AccessServiceOptions {
  db: Kysely<Database>;
  /** The `user` rows (the accounts module's service). */
  users: UserDirectory;
  clock: Clock;
  cache: AuthCache;
  changes: AuthChanges;
  audit: AuditLog;
  defaults: AccessDefaults;
  /** What each role grants; default {@link ROLE_PERMISSIONS} (feature modules add theirs: `withRoleGrants`). */
  roleGrants?: Readonly<Record<Role, readonly string[]>>;
}

export class AccessService {
  constructor(private readonly options: AccessServiceOptions) {}

  /** The effective access of a user (cached; invalidated on role, group or membership changes). */
  async effectiveAccess(user: UserRow): Promise<EffectiveAccess> {
    const cached = this.options.cache.access<EffectiveAccess>(user.id);
    if (cached) return cached;
    const groups = await listGroupsOfUser(this.options.db, user.id);
    const permissions = new Set<string>((this.options.roleGrants ?? ROLE_PERMISSIONS)[user.role as Role] ?? []);
    for (const group of groups) for (const p of JSON.parse(group.permissions) as string[]) permissions.add(p);
    const d = this.options.defaults;
    const access: EffectiveAccess = {
      permissions,
      groups: groups.map((g) => g.name),
      sessionTtlSeconds: mostGenerous(groups.map((g) => g.session_ttl_seconds), d.sessionTtlSeconds),
      apiKeyMaxTtlSeconds: mostGenerous(groups.map((g) => g.api_key_max_ttl_seconds), d.apiKeyMaxTtlSeconds),
      quotaPerHour: mostGenerous(groups.map((g) => g.quota_per_hour), d.quotaPerHour),
      quotaPerDay: mostGenerous(groups.map((g) => g.quota_per_day), d.quotaPerDay),
      storageQuotaBytes: mostGenerous(groups.map((g) => g.storage_quota_bytes), d.storageQuotaBytes),
      // The one policy where the strictest group wins: a requirement cannot be waived by another group.
      requireMfa: groups.some((g) => Number(g.require_mfa) === 1),
    };
    this.options.cache.rememberAccess(user.id, access);
    return access;
  }

  /** Effective access by user id. @throws AppError `not_found`. */
  async effectiveAccessOf(userId: string): Promise<EffectiveAccess> {
    const user = await this.options.users.findById(userId);
    if (!user) throw new AppError('not_found', 'No such user.');
    return this.effectiveAccess(user);
  }

  /** Every group. */
  async listGroups(): Promise<GroupView[]> {
    return (await listGroups(this.options.db)).map(toGroupView);
  }

  /** One group by id or name. @throws AppError `not_found`. */
  async getGroup(idOrName: string): Promise<GroupView> {
    return toGroupView(await this.requireGroup(idOrName));
  }

  /**
   * Creates a group.
   * @throws AppError `validation_failed` (bad name or permission), `conflict` (name taken),
   *   `forbidden` (a permission the actor lacks), `privilege_escalation` (a policy beyond the actor's).
   */
  async createGroup(input: GroupInput & { name: string }, actor: ActorContext): Promise<GroupView> {
    this.validate(input);
    assertCanGrant(actor.permissions, input.permissions ?? [], `group "${input.name}"`);
    await this.assertPolicyWithin(actor, input, `group "${input.name}"`);
    const now = this.options.clock.now().toISOString();
    try {
      const row = await inTransaction(this.options.db, async (tx) => {
        const created = await insertGroup(tx.db, {
          id: newId(),
          name: input.name,
          description: input.description ?? '',
          permissions: JSON.stringify(input.permissions ?? []),
          session_ttl_seconds: input.session_ttl_seconds ?? null,
          api_key_max_ttl_seconds: input.api_key_max_ttl_seconds ?? null,
          quota_per_hour: input.quota_per_hour ?? null,
          quota_per_day: input.quota_per_day ?? null,
          storage_quota_bytes: input.storage_quota_bytes ?? null,
          require_mfa: input.require_mfa ? 1 : 0,
          created_at: now,
          updated_at: now,
        });
        await this.options.audit.record(tx.db, actor, {
          action: 'group.create',
          targetType: 'group',
          targetId: created.id,
          details: { name: created.name, permissions: input.permissions ?? [] },
        });
        return created;
      });
      return toGroupView(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('conflict', `A group named "${input.name}" already exists.`);
      throw error;
    }
  }

  /**
   * Changes a group; members' access is recomputed everywhere at once.
   * @throws AppError `not_found`, `validation_failed`, `conflict`, `forbidden` (a permission the
   *   actor lacks, given or already held by the group), `privilege_escalation` (a policy beyond the actor's).
   */
  async updateGroup(idOrName: string, input: GroupInput, actor: ActorContext): Promise<GroupView> {
    this.validate(input);
    assertCanGrant(actor.permissions, input.permissions ?? [], `these permissions to group "${idOrName}"`);
    const group = await this.requireGroup(idOrName);
    // Renaming or re-policing a group above your rank would act on its members.
    assertCanGrant(actor.permissions, JSON.parse(group.permissions) as string[], `changes to group "${group.name}"`);
    await this.assertPolicyWithin(actor, input, `group "${group.name}"`);
    const changes: Parameters<typeof updateGroup>[2] = { updated_at: this.options.clock.now().toISOString() };
    if (input.name !== undefined) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (input.permissions !== undefined) changes.permissions = JSON.stringify(input.permissions);
    for (const key of ['session_ttl_seconds', 'api_key_max_ttl_seconds', 'quota_per_hour', 'quota_per_day', 'storage_quota_bytes'] as const) {
      if (input[key] !== undefined) changes[key] = input[key];
    }
    if (input.require_mfa !== undefined) changes.require_mfa = input.require_mfa ? 1 : 0;
    try {
      const row = await inTransaction(this.options.db, async (tx) => {
        const updated = await updateGroup(tx.db, group.id, changes);
        await this.options.audit.record(tx.db, actor, {
          action: 'group.update',
          targetType: 'group',
          targetId: group.id,
          details: { changes: input },
        });
        await this.options.changes.everythingChanged(tx);
        return updated;
      });
      if (!row) throw new AppError('not_found', 'No such group.');
      return toGroupView(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('conflict', `A group named "${input.name}" already exists.`);
      throw error;
    }
  }

  /** Deletes a group and its memberships. @throws AppError `not_found`, `forbidden` (a group carrying a permission the actor lacks). */
  async deleteGroup(idOrName: string, actor: ActorContext): Promise<void> {
    const group = await this.requireGroup(idOrName);
    assertCanGrant(actor.permissions, JSON.parse(group.permissions) as string[], `the deletion of group "${group.name}"`);
    await inTransaction(this.options.db, async (tx) => {
      await deleteGroup(tx.db, group.id);
      await this.options.audit.record(tx.db, actor, {
        action: 'group.delete',
        targetType: 'group',
        targetId: group.id,
        details: { name: group.name },
      });
      await this.options.changes.everythingChanged(tx);
    });
  }

  /**
   * Adds or removes a user's membership.
   * @throws AppError `not_found`, `forbidden` (the group carries a permission the actor lacks),
   *   `privilege_escalation` (the user holds a permission the actor lacks, or the group a policy
   *   beyond the actor's).
   */
  async setMembership(idOrName: string, userId: string, member: boolean, actor: ActorContext): Promise<void> {
    const group = await this.requireGroup(idOrName);
    const user = await this.options.users.findById(userId);
    if (!user) throw new AppError('not_found', 'No such user.');
    if (actor.actorId !== userId) await this.assertMayActOn(actor, user);
    if (member) {
      assertCanGrant(actor.permissions, JSON.parse(group.permissions) as string[], `membership of "${group.name}"`);
      await this.assertPolicyWithin(actor, group, `membership of "${group.name}"`);
    }
    await inTransaction(this.options.db, async (tx) => {
      const now = this.options.clock.now().toISOString();
      const changed = member ? await addMember(tx.db, group.id, userId, now) : await removeMember(tx.db, group.id, userId);
      if (!changed) return;
      await this.options.audit.record(tx.db, actor, {
        action: 'user.groups_change',
        targetType: 'user',
        targetId: userId,
        details: { group: group.name, member },
      });
      await this.options.changes.userChanged(tx, userId);
    });
  }

  /**
   * Creates or updates groups from a JSON file (an array of group objects with `name`), so a
   * deployment can keep its groups in version control. Existing groups keep their id.
   * @throws Error naming the file when it is unreadable or invalid.
   */
  async seedGroupsFromFile(file: string): Promise<{ created: string[]; updated: string[] }> {
    const schema = z.array(
      z.object({
        name: z.string(),
        description: z.string().optional(),
        permissions: z.array(z.string()).optional(),
        session_ttl_seconds: z.number().int().min(0).nullable().optional(),
        api_key_max_ttl_seconds: z.number().int().min(0).nullable().optional(),
        quota_per_hour: z.number().int().min(0).nullable().optional(),
        quota_per_day: z.number().int().min(0).nullable().optional(),
        storage_quota_bytes: z.number().int().min(0).nullable().optional(),
        require_mfa: z.boolean().optional(),
      }),
    );
    let groups: z.infer<typeof schema>;
    try {
      groups = schema.parse(JSON.parse(readFileSync(file, 'utf8')));
      // Names and permissions are checked before anything is written, so a bad file changes nothing.
      for (const group of groups) this.validate(group);
    } catch (error) {
      throw new Error(`GROUPS_FILE ${file} is not a valid group list: ${(error as Error).message}`, { cause: error });
    }
    const result = { created: [] as string[], updated: [] as string[] };
    const system: ActorContext = { actorId: null, ip: null, userAgent: 'groups-file' };
    for (const group of groups) {
      if (await findGroup(this.options.db, group.name)) {
        await this.updateGroup(group.name, group, system);
        result.updated.push(group.name);
      } else {
        await this.createGroup(group, system);
        result.created.push(group.name);
      }
    }
    return result;
  }

  /**
   * No acting above your rank: a delegated manager (users:manage or groups:manage without `*`)
   * may change, ban, verify, sign out, delete or regroup only users whose every permission it
   * holds itself, so it can never lock out an admin or someone with rights it lacks. Operators
   * (no `actor.permissions`: CLI, system) are not limited. Rank is the acting user's own grants
   * (see {@link rankOf}); a key's scopes still decide, through the route guard, what it may do.
   * @throws AppError `privilege_escalation` naming what the target holds beyond the actor.
   */
  async assertMayActOn(actor: ActorContext, target: UserRow): Promise<void> {
    const mine = await this.rankOf(actor);
    if (!mine || mine.has('*')) return;
    const theirs = [...(await this.effectiveAccess(target)).permissions];
    if (scopesWithin(mine, theirs)) return;
    const beyond = theirs.filter((p) => !scopesWithin(mine, [p]));
    throw new AppError('privilege_escalation', `You cannot act on this user: they hold ${beyond.join(', ')}, which you do not have.`, {
      extra: { missing_permissions: beyond },
    });
  }

  /**
   * A group's policy must not be more generous than the actor's own (their effective access):
   * unlimited quotas, never-expiring sessions and keys without expiry (0) need `*`; other values
   * may not exceed the actor's. Operators (no `actor.permissions`) and `*` holders are not limited.
   * @throws AppError `privilege_escalation` naming the field.
   */
  private async assertPolicyWithin(
    actor: ActorContext,
    policy: Pick<GroupInput, (typeof POLICY_FIELDS)[number][0]>,
    what: string,
  ): Promise<void> {
    const mine = await this.rankOf(actor);
    if (!mine || mine.has('*')) return;
    const own: AccessDefaults = actor.actorId ? await this.effectiveAccessOf(actor.actorId) : this.options.defaults;
    for (const [field, key, unlimited, limited] of POLICY_FIELDS) {
      const value = policy[field];
      if (value === null || value === undefined) continue;
      if (value === 0) {
        throw new AppError('privilege_escalation', `You cannot grant ${what} ${unlimited} (${field} 0): that needs the * permission.`, {
          errors: [{ field: `/${field}`, message: '0 (unlimited) needs the * permission' }],
        });
      }
      if (own[key] !== 0 && value > own[key]) {
        throw new AppError('privilege_escalation', `You cannot grant ${what} ${limited} beyond your own (${field} at most ${own[key]}).`, {
          errors: [{ field: `/${field}`, message: `must be at most ${own[key]}` }],
        });
      }
    }
  }

  /**
   * What an actor ranks as: the acting user's own effective permissions (an admin's narrowly
   * scoped key still acts for an admin), the credential's when there is no user, and undefined
   * for operators (no `actor.permissions`).
   */
  private async rankOf(actor: ActorContext): Promise<ReadonlySet<string> | undefined> {
    if (!actor.permissions) return undefined;
    if (!actor.actorId) return actor.permissions;
    const user = await this.options.users.findById(actor.actorId);
    return user ? (await this.effectiveAccess(user)).permissions : actor.permissions;
  }

  private validate(input: GroupInput): void {
    const errors: Array<{ field: string; message: string }> = [];
    if (input.name !== undefined && !GROUP_NAME_PATTERN.test(input.name)) {
      errors.push({ field: '/name', message: 'must be 1-64 lowercase letters, digits, _ . or -' });
    }
    (input.permissions ?? []).forEach((p, i) => {
      if (!isValidPermission(p)) errors.push({ field: `/permissions/${i}`, message: 'must look like resource:action, resource:* or *' });
    });
    if (errors.length) throw new AppError('validation_failed', errors.map((e) => `${e.field} ${e.message}`).join('; '), { errors });
  }

  private async requireGroup(idOrName: string): Promise<GroupRow> {
    const group = await findGroup(this.options.db, idOrName);
    if (!group) throw new AppError('not_found', 'No such group.');
    return group;
  }
}
