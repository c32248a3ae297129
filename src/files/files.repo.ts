/** Queries for the `file` table (metadata of stored files; the bytes live in a FileStorage). */
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
