/**
 * The file API's shape, declared once: the `FileMeta` schema validates and documents responses
 * (OpenAPI), and {@link FileView} is derived from it with `Static<>`.
 */
import { type Static, Type } from '@sinclair/typebox';
import { FILE_PURPOSES } from './files.service.js';

/** `FileMeta` component: `size_bytes` in bytes, `sha256` the lower-case hex digest (also the ETag), times ISO-8601 UTC. */
export const FileMetaSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    owner_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    purpose: Type.Union(FILE_PURPOSES.map((p) => Type.Literal(p))),
    name: Type.String(),
    content_type: Type.String(),
    size_bytes: Type.Integer({ minimum: 0, description: 'bytes' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Lower-case hex SHA-256 of the content (also the ETag).' }),
    job_id: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'FileMeta' },
);

/** The API view of a file (`GET /api/v1/files/{id}/meta`, the upload's 201 body); the storage key stays private. */
export type FileView = Static<typeof FileMetaSchema>;
