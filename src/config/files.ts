/** The `files` configuration section: file storage (src/files/). */
import path from 'node:path';
import { z } from 'zod';
import { nonNegativeInt, type ParsedShape, positiveInt } from './schema.js';

/** The `files` section of the configuration. */
export interface FilesConfig {
  /** Where the file storage keeps bytes. Default `DATA_DIR/files`. */
  dir: string;
  /** Largest upload, in bytes. Default 512 MiB. */
  maxBytes: number;
  /** Bytes of stored files a user may own unless a group grants more; 0 = unlimited. Default 1 GiB. */
  storageQuotaBytes: number;
}

/** The section's environment variables. */
export const filesEnvShape = {
  FILES_DIR: z.string().min(1).optional(),
  FILE_MAX_BYTES: positiveInt().default(512 * 1024 * 1024),
  STORAGE_QUOTA_BYTES: nonNegativeInt().default(1024 * 1024 * 1024),
};

/**
 * Builds the section from the parsed variables.
 * @param dataDir `Config.dataDir`, home of the default `DATA_DIR/files`.
 */
export function filesSettings(e: ParsedShape<typeof filesEnvShape>, dataDir: string): FilesConfig {
  return {
    dir: e.FILES_DIR ? path.resolve(e.FILES_DIR) : path.join(dataDir, 'files'),
    maxBytes: e.FILE_MAX_BYTES,
    storageQuotaBytes: e.STORAGE_QUOTA_BYTES,
  };
}
