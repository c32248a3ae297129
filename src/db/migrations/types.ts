/** Column types that differ between SQLite and PostgreSQL, handed to every migration. */
export interface MigrationTypes {
  /** `timestamptz` on PostgreSQL, `text` (ISO-8601) on SQLite. */
  timestamp: 'timestamptz' | 'text';
  /** `jsonb` on PostgreSQL, `text` on SQLite. */
  json: 'jsonb' | 'text';
}
