/**
 * Migration 0008: job hardening.
 *
 * 1. Idempotency keys are scoped per (queue, owner) instead of per queue, so one user's key never
 *    resolves to another user's job. The scope lives in its own column, `job.idempotency_owner`
 *    (the enqueuer's user id, `''` for the operator), rather than in `owner_id`: `owner_id` is set
 *    to null when its user is deleted, and null owners would then collide in (or escape) the
 *    unique index. The unique index is (queue, idempotency_owner, idempotency_key).
 * 2. The job, file and event routes gained permissions (`jobs:read`, `jobs:control`,
 *    `files:read`, `files:write`, `events:read`). Existing API keys keep what they could do:
 *    a key scoped `account:self` or `jobs:enqueue` gets the new scopes that cover its owner's own
 *    jobs, files and event streams (still intersected with the owner's grants on every use).
 *
 * Frozen in time: it takes `Kysely<any>` and imports no application code.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationTypes } from './types.js';

/** Scopes added to existing keys, by a scope the key already has. */
const ADDED_SCOPES: Record<string, readonly string[]> = {
  'account:self': ['jobs:read', 'jobs:control', 'files:read', 'files:write', 'events:read'],
  'jobs:enqueue': ['jobs:read', 'jobs:control', 'events:read'],
};

/** Builds migration 0008 for one dialect's column types. */
export function migration0008({ json }: MigrationTypes) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('job').addColumn('idempotency_owner', 'text').execute();
      await db
        .updateTable('job')
        .set({ idempotency_owner: sql`coalesce(owner_id, '')` })
        .where('idempotency_key', 'is not', null)
        .execute();
      await db.schema.dropIndex('job_idempotency_idx').execute();
      await db.schema
        .createIndex('job_idempotency_owner_idx')
        .on('job')
        .columns(['queue', 'idempotency_owner', 'idempotency_key'])
        .unique()
        .where(sql.ref('idempotency_key'), 'is not', null)
        .execute();

      const keys = (await db.selectFrom('api_key').select(['id', 'scopes']).execute()) as Array<{ id: string; scopes: unknown }>;
      for (const key of keys) {
        const scopes = (typeof key.scopes === 'string' ? JSON.parse(key.scopes) : key.scopes) as unknown;
        if (!Array.isArray(scopes)) continue;
        const next = [...scopes] as string[];
        for (const scope of scopes as string[]) for (const added of ADDED_SCOPES[scope] ?? []) if (!next.includes(added)) next.push(added);
        if (next.length === scopes.length) continue;
        const text = JSON.stringify(next);
        await db
          .updateTable('api_key')
          .set({ scopes: json === 'jsonb' ? sql`cast(${text} as jsonb)` : text })
          .where('id', '=', key.id)
          .execute();
      }
    },
  };
}
