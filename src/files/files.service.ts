/**
 * Stored files: uploads (streamed into a {@link FileStorage}, SHA-256 computed on the way),
 * metadata, downloads and who may read what (docs/jobs.md, "Files").
 *
 * Who may read a file: its owner; principals with `files:manage` (admins); and whoever a
 * {@link JobFileAccess} vouches for (the owner of the job the file was uploaded for, the worker
 * holding a job that lists it). Everyone else is told `not_found`, never `forbidden`, so file ids
 * cannot be probed.
 */
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { allows } from '../access/permissions.js';
import type { Principal } from '../auth/auth.service.js';
import type { Executor } from '../db/executor.js';
import type { Database, FileRow } from '../db/schema.js';
import type { Clock } from '../shared/clock.js';
import { AppError, isAppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { deleteFileById, findFileById, findFilesByIds, insertFile, listJobFileIds, sumFileBytesOwnedBy } from './files.repo.js';
import type { ByteRange, FileStorage } from './storage.js';
import type { FileView } from './files.views.js';

/** What a file is for. Users upload `input` and `attachment`; workers upload `output` and `checkpoint` for a job they hold. */
export type FilePurpose = FileRow['purpose'];

/** Every purpose, in the order the API documents them. */
export const FILE_PURPOSES: readonly FilePurpose[] = ['input', 'attachment', 'output', 'checkpoint'];

/** Purposes tied to a job the uploading worker holds (they need `job_id` and `attempt`). */
const JOB_PURPOSES: ReadonlySet<FilePurpose> = new Set(['output', 'checkpoint']);

/** Content type recorded when the upload names none (or an unusable one). */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Name recorded when the upload names none (or nothing is left after sanitising). */
export const DEFAULT_FILE_NAME = 'file';

/** Longest stored file name, in characters (code points). */
const MAX_NAME_LENGTH = 200;

export type { FileView };

/** Converts a row to its API view (the storage key stays private). */
export function toFileView(row: FileRow): FileView {
  return {
    id: row.id,
    owner_id: row.owner_id,
    purpose: row.purpose,
    name: row.name,
    content_type: row.content_type,
    size_bytes: Number(row.size_bytes),
    sha256: row.sha256,
    job_id: row.job_id,
    created_at: row.created_at,
  };
}

/**
 * How the job system vouches for access to files through jobs. Implemented by the JobService;
 * FileService never reads the job tables itself.
 */
export interface JobFileAccess {
  /** True when the principal may read `file` through a job: it owns the job the file was uploaded for (`file.job_id`), or its worker (its API key) currently holds a job whose input_files / output_files / checkpoint_file_id lists the file. */
  mayReadThroughJob(file: FileRow, principal: Principal): Promise<boolean>;
  /** @throws AppError `lease_lost` (409) unless the principal's worker holds job `jobId` under `attempt`; `forbidden` when the principal is not a worker API key. */
  assertHoldsJob(principal: Principal, jobId: string, attempt: number): Promise<void>;
}

/**
 * A feature module's rule for reading files it owns (src/modules/contract.ts, `fileAccess`): e.g.
 * challenge resources readable by participants, hidden reference data readable only by the worker
 * holding an evaluation job. Rules only ever grant: the owner and `files:manage` read every file
 * anyway, and a file no rule grants stays `404`.
 */
export interface FileAccessRule {
  /** Names the rule in logs. */
  name: string;
  /** True when `principal` may read (download, `/meta`) `file`. Must not throw for files it does not know. */
  mayRead(file: FileRow, principal: Principal): Promise<boolean>;
}

/** What an upload is for (already syntactically valid; the service checks the rules). */
export interface UploadInput {
  /** Default `input`. */
  purpose?: FilePurpose | undefined;
  /** The job the file is uploaded for (`output` and `checkpoint` only, with `attempt`). */
  jobId?: string | undefined;
  /** The attempt under which the uploading worker holds `jobId` (the fencing token). */
  attempt?: number | undefined;
}

/** The bytes of an upload and what the client said about them. */
export interface UploadSource {
  /** The content; read once, never buffered whole. */
  stream: Readable;
  /** The client's file name (sanitised before it is stored). */
  filename?: string | undefined;
  /** The client's content type (normalised; {@link DEFAULT_CONTENT_TYPE} when absent or unusable). */
  contentType?: string | undefined;
  /**
   * Called once the bytes are stored and before the file is recorded (the HTTP layer checks that
   * nothing follows the file part). When it throws, the stored bytes are deleted and its error
   * propagates.
   */
  afterStream?: () => Promise<void>;
}

/** A user's storage: what they may own and what they own (`GET /api/v1/users/me/quota`). */
export interface StorageUsage {
  /** Bytes the user may own; 0 = unlimited (STORAGE_QUOTA_BYTES, or the most generous of their groups). */
  limit_bytes: number;
  /** Bytes of the files the user owns. */
  used_bytes: number;
  /** Bytes left; null when unlimited. */
  remaining_bytes: number | null;
}

/** Options for {@link FileService}. */
export interface FileServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  storage: FileStorage;
  /** Largest upload in bytes (`FILE_MAX_BYTES`). */
  maxBytes: number;
  /** Access through jobs (the JobService). */
  jobAccess: JobFileAccess;
}

/**
 * Keeps the last path segment of a client's file name, without control or bidirectional-override
 * characters and without characters Windows forbids, NFC-normalised and at most 200 characters
 * (the extension is kept when shortening). Empty, `.` and `..` become {@link DEFAULT_FILE_NAME}.
 */
export function sanitizeFileName(raw: string | undefined): string {
  let name = (raw ?? '').normalize('NFC');
  name = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  name = Array.from(name).filter((c) => !isUnsafeNameChar(c.codePointAt(0) ?? 0)).join('');
  name = name.replace(/[<>:"|?*]/g, '_').trim();
  if (name === '' || name === '.' || name === '..') return DEFAULT_FILE_NAME;
  const chars = Array.from(name);
  if (chars.length <= MAX_NAME_LENGTH) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? Array.from(name.slice(dot)) : [];
  const keep = extension.length > 0 && extension.length <= 20 ? extension : [];
  return chars.slice(0, MAX_NAME_LENGTH - keep.length).join('') + keep.join('');
}

/** C0/C1 controls, and the bidirectional marks and overrides that can make `exe.txt` look like `txt.exe`. */
function isUnsafeNameChar(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE_PATTERN = new RegExp(`^(${TOKEN})/(${TOKEN})((?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\r\\n]*"))*)$`);

/**
 * A client's content type as a media type (RFC 9110 §8.3.1: `type/subtype` with optional
 * parameters; type and subtype lower-cased), or {@link DEFAULT_CONTENT_TYPE} when it is absent,
 * malformed or longer than 255 characters.
 */
export function normalizeContentType(raw: string | undefined): string {
  const value = (raw ?? '').trim();
  if (value.length === 0 || value.length > 255) return DEFAULT_CONTENT_TYPE;
  const match = MEDIA_TYPE_PATTERN.exec(value);
  if (!match) return DEFAULT_CONTENT_TYPE;
  return `${match[1]!.toLowerCase()}/${match[2]!.toLowerCase()}${match[3] ?? ''}`;
}

/** Uploads, metadata and reads of stored files. */
export class FileService {
  private readonly accessRules: FileAccessRule[] = [];

  constructor(private readonly options: FileServiceOptions) {}

  /** Largest upload in bytes. */
  get maxBytes(): number {
    return this.options.maxBytes;
  }

  /**
   * Stores an upload and records it, owned by the principal.
   *
   * Rules: `input` (the default) and `attachment` need `account:self` and take no job; `output`
   * and `checkpoint` need `job_id` and `attempt`, `account:self` or `jobs:claim`, and a worker
   * holding that job under that attempt, checked before the bytes are read and again after (a
   * lease lost during a long upload keeps nothing).
   *
   * Storage quota: a user upload (`input`, `attachment`) must fit in the owner's storage quota
   * (`principal.access.storageQuotaBytes`, 0 = unlimited) counting every file they own; it is
   * checked before the bytes are read, bounds the stream, and is checked again once the file is
   * recorded (two concurrent uploads cannot both overshoot: the later one is removed). Job files
   * (`output`, `checkpoint`) are counted but never refused, so a worker can always finish its job.
   * @throws AppError `validation_failed` (a job with a user purpose, a job purpose without a job),
   *   `forbidden`, `lease_lost` (from the {@link JobFileAccess}), `payload_too_large` (more than
   *   `maxBytes`; nothing is kept), `storage_quota_exceeded` (413; nothing is kept), or whatever
   *   `source.afterStream` throws.
   */
  async upload(principal: Principal, input: UploadInput, source: UploadSource): Promise<FileView> {
    const purpose = input.purpose ?? 'input';
    const job = await this.checkUploadRules(principal, purpose, input);
    const quota = JOB_PURPOSES.has(purpose) ? 0 : principal.access.storageQuotaBytes;
    let maxBytes = this.options.maxBytes;
    if (quota > 0) {
      const used = await sumFileBytesOwnedBy(this.options.db, principal.user.id);
      if (used >= quota) throw storageQuotaExceeded(quota, used);
      maxBytes = Math.min(maxBytes, quota - used);
    }
    let stored: Awaited<ReturnType<FileStorage['put']>>;
    try {
      stored = await this.options.storage.put(source.stream, { maxBytes });
    } catch (error) {
      // The stream was cut at what the quota left, not at FILE_MAX_BYTES: say which limit it was.
      if (maxBytes < this.options.maxBytes && isAppError(error, 'payload_too_large')) {
        throw storageQuotaExceeded(quota, quota - maxBytes);
      }
      throw error;
    }
    try {
      await source.afterStream?.();
      if (job) await this.options.jobAccess.assertHoldsJob(principal, job.jobId, job.attempt);
      const row: FileRow = {
        id: newId(),
        owner_id: principal.user.id,
        purpose,
        name: sanitizeFileName(source.filename),
        content_type: normalizeContentType(source.contentType),
        size_bytes: stored.size,
        sha256: stored.sha256,
        storage_key: stored.key,
        job_id: job?.jobId ?? null,
        created_at: this.options.clock.now().toISOString(),
      };
      await insertFile(this.options.db, row);
      if (quota > 0) {
        // Concurrent uploads each saw room for themselves: whichever finds the total over the quota removes its own file.
        const used = await sumFileBytesOwnedBy(this.options.db, principal.user.id);
        if (used > quota) {
          await deleteFileById(this.options.db, row.id);
          throw storageQuotaExceeded(quota, used - row.size_bytes);
        }
      }
      return toFileView(row);
    } catch (error) {
      await this.options.storage.delete(stored.key);
      throw error;
    }
  }

  /** The principal's storage quota and the bytes of the files they own. */
  async storageUsage(principal: Principal): Promise<StorageUsage> {
    const limit = principal.access.storageQuotaBytes;
    const used = await sumFileBytesOwnedBy(this.options.db, principal.user.id);
    return { limit_bytes: limit, used_bytes: used, remaining_bytes: limit > 0 ? Math.max(0, limit - used) : null };
  }

  /**
   * The file `id` when `principal` may read it.
   * @throws AppError `not_found` when it does not exist or the principal may not read it (the
   *   same answer, so ids cannot be probed).
   */
  async findReadable(id: string, principal: Principal): Promise<FileRow> {
    const row = await findFileById(this.options.db, id);
    if (!row || !(await this.mayRead(row, principal))) throw new AppError('not_found', 'No such file.');
    return row;
  }

  /**
   * The stored files among `ids` (any order; missing ids are absent), with no access check: for
   * other features that validate file ids they were handed (jobs checking input, output and
   * checkpoint files), never for answering a principal directly. Reads through `db` when given
   * (a caller's write transaction, `tx.db`: SQLite has one connection, which it holds).
   */
  async findByIds(ids: readonly string[], db: Executor = this.options.db): Promise<FileRow[]> {
    return findFilesByIds(db, ids);
  }

  /**
   * Ids of the files of `purpose` a worker uploaded for job `jobId`, oldest first (for feature
   * modules showing a running job's latest checkpoint). No access check: the caller decides who sees them.
   */
  async jobFileIds(jobId: string, purpose: FilePurpose): Promise<string[]> {
    return listJobFileIds(this.options.db, jobId, purpose);
  }

  /** The metadata of file `id`. @throws AppError `not_found` as {@link findReadable}. */
  async meta(id: string, principal: Principal): Promise<FileView> {
    return toFileView(await this.findReadable(id, principal));
  }

  /**
   * The bytes of `file` (from {@link findReadable}), whole or the inclusive `range`.
   * @throws AppError `not_found` when the bytes are missing from the storage (deleted by hand).
   */
  async openContent(file: FileRow, range?: ByteRange): Promise<Readable> {
    if (!(await this.options.storage.stat(file.storage_key))) {
      throw new AppError('not_found', 'The file\'s content is missing from the storage.');
    }
    return this.options.storage.createReadStream(file.storage_key, range);
  }

  /**
   * Deletes file `id`: its record, then its bytes. For feature modules removing files they manage on
   * their users' behalf (a speech session deleted with its recording, an upload refused after it was
   * stored). A file that does not exist is no error.
   */
  async remove(id: string): Promise<void> {
    const row = await findFileById(this.options.db, id);
    if (!row) return;
    await deleteFileById(this.options.db, id);
    await this.options.storage.delete(row.storage_key);
  }

  /** Adds feature modules' read rules (consulted after the owner, `files:manage` and job rules). */
  addAccessRules(rules: readonly FileAccessRule[]): void {
    this.accessRules.push(...rules);
  }

  private async mayRead(row: FileRow, principal: Principal): Promise<boolean> {
    if (allows(principal.permissions, 'files:manage')) return true;
    // Your own files need `files:read`: an API key scoped to something else (say `jobs:claim`) does not read them.
    if (row.owner_id !== null && row.owner_id === principal.user.id && allows(principal.permissions, 'files:read')) return true;
    if (await this.options.jobAccess.mayReadThroughJob(row, principal)) return true;
    for (const rule of this.accessRules) if (await rule.mayRead(row, principal)) return true;
    return false;
  }

  /** Applies the purpose rules; returns the job the upload is for, if any. */
  private async checkUploadRules(
    principal: Principal,
    purpose: FilePurpose,
    input: UploadInput,
  ): Promise<{ jobId: string; attempt: number } | null> {
    if (!JOB_PURPOSES.has(purpose)) {
      if (input.jobId !== undefined || input.attempt !== undefined) {
        throw new AppError('validation_failed', `job_id and attempt go only with purpose output or checkpoint.`, {
          errors: [{ field: input.jobId !== undefined ? '/job_id' : '/attempt', message: `is not allowed with purpose ${purpose}` }],
        });
      }
      if (!allows(principal.permissions, 'files:write')) {
        throw new AppError('forbidden', 'Uploading files needs the files:write permission.', {
          extra: { required_permission: 'files:write' },
        });
      }
      return null;
    }
    if (input.jobId === undefined || input.attempt === undefined) {
      throw new AppError('validation_failed', `Purpose ${purpose} needs job_id and attempt (the job this worker holds).`, {
        errors: [{ field: input.jobId === undefined ? '/job_id' : '/attempt', message: `is required with purpose ${purpose}` }],
      });
    }
    // Job files come from the worker holding the job: its key needs `jobs:claim` (checked with the hold).
    await this.options.jobAccess.assertHoldsJob(principal, input.jobId, input.attempt);
    return { jobId: input.jobId, attempt: input.attempt };
  }
}

/** `413 storage_quota_exceeded`, with the quota and the bytes in use. */
function storageQuotaExceeded(quota: number, used: number): AppError {
  return new AppError(
    'storage_quota_exceeded',
    `Your files may take at most ${quota} bytes and ${used} are in use; ask an administrator for a larger quota.`,
    { extra: { limit_bytes: quota, used_bytes: used } },
  );
}
