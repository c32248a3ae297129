/**
 * The example module's table, added to Gatehouse's Kysely `Database` type by declaration merging:
 * the platform's schema file is not edited, and every repository (this module's) sees the table.
 */
import type { Selectable } from 'kysely';

/** `tally`: one request to add up numbers, computed by a job (`tally.sum`) linked by `parent_type = 'tally'`. */
export interface TallyTable {
  id: string;
  owner_id: string;
  /** JSON array of numbers, serialised. */
  numbers: string;
  /** `pending` until the job's outcome is recorded, in the same transaction. */
  status: 'pending' | 'done' | 'failed';
  /** JSON `{sum, count}` from the job's result, serialised; null until done. */
  result: string | null;
  /** The job that computes it. */
  job_id: string | null;
  created_at: string;
  updated_at: string;
}

/** A `tally` row as read. */
export type TallyRow = Selectable<TallyTable>;

declare module '../../src/db/schema.js' {
  interface Database {
    tally: TallyTable;
  }
}
