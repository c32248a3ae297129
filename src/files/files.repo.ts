/** Queries for the `file` table (metadata of stored files; the bytes live in a FileStorage). */
import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { FileRow, FileTable } from '../db/schema.js';

/** Inserts a file's metadata row. */
export async function insertFile(db: Executor, row: FileTable): Promise<void> {
  await db.insertInto('file').values(row).execute();
}

/** The file with this id, or undefined. */
export async function findFileById(db: Executor, id: string): Promise<FileRow | undefined> {
  return db.selectFrom('file').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The files among `ids` that exist (any order; missing ids are simply absent). */
export async function findFilesByIds(db: Executor, ids: readonly string[]): Promise<FileRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('file').selectAll().where('id', 'in', ids).execute();
}

/** Ids of the files of `purpose` uploaded for job `jobId`, oldest first (ids are UUIDv7, so id order is upload order). */
export async function listJobFileIds(db: Executor, jobId: string, purpose: FileRow['purpose']): Promise<string[]> {
  const rows = await db
    .selectFrom('file')
    .select('id')
    .where('job_id', '=', jobId)
    .where('purpose', '=', purpose)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => r.id);
}

/** Total bytes of the files `ownerId` owns (0 when none). */
export async function sumFileBytesOwnedBy(db: Executor, ownerId: string): Promise<number> {
  const row = await db
    .selectFrom('file')
    .select(sql<string | number | null>`sum(size_bytes)`.as('total'))
    .where('owner_id', '=', ownerId)
    .executeTakeFirst();
  // PostgreSQL sums bigints as numeric (a string); SQLite answers a number or null.
  return Number(row?.total ?? 0);
}

/** Deletes one file's metadata row. */
export async function deleteFileById(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('file').where('id', '=', id).execute();
}
