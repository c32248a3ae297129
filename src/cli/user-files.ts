/**
 * The file formats of `users export` / `users import`: JSON (an array, one user per line, or JSON
 * Lines) and CSV (RFC 4180, a header row). Parsers remember the line each record starts on, so
 * import errors can point at it.
 */
import type { ExportedUser } from '../access/user-admin.service.js';

/** Formats `users export` writes and `users import` reads. */
export type UserFileFormat = 'json' | 'csv';

/** One record read from an import file, with the 1-based line it starts on. */
export interface FileRecord {
  line: number;
  record: unknown;
}

/** The CSV columns, in order. `groups` is `;`-separated; `profile` is JSON text. */
export const CSV_COLUMNS: ReadonlyArray<keyof ExportedUser> = [
  'id',
  'email',
  'name',
  'role',
  'status',
  'email_verified_at',
  'groups',
  'banned_until',
  'ban_reason',
  'created_at',
  'updated_at',
  'profile',
  'password_hash',
];

/** Picks the format from `--format`, else from the file name (`.csv` → csv, anything else json). */
export function formatOf(file: string, explicit?: UserFileFormat): UserFileFormat {
  return explicit ?? (/\.csv$/i.test(file) ? 'csv' : 'json');
}

/** Thrown when a whole file cannot be read as the format (not a per-record problem). */
export class FileFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileFormatError';
  }
}

/** The text of one JSON export line (no trailing comma). */
export function jsonRecord(user: ExportedUser): string {
  return JSON.stringify(user);
}

function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The CSV header line. */
export function csvHeader(): string {
  return CSV_COLUMNS.join(',');
}

/** One CSV line for a user (no line break). */
export function csvRecord(user: ExportedUser): string {
  return CSV_COLUMNS.map((column) => {
    const value = user[column];
    if (value === null || value === undefined) return '';
    if (column === 'groups') return csvCell((value as string[]).join(';'));
    if (column === 'profile') return csvCell(JSON.stringify(value));
    return csvCell(String(value));
  }).join(',');
}

/**
 * Reads an import file's text.
 * @throws FileFormatError when the text is not valid JSON / CSV as a whole.
 */
export function parseUserFile(text: string, format: UserFileFormat): FileRecord[] {
  return format === 'csv' ? parseCsv(text) : parseJson(text);
}

/** A JSON array of objects, or JSON Lines (one object per line). */
function parseJson(text: string): FileRecord[] {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trimStart().startsWith('[')) {
    let values: unknown;
    try {
      values = JSON.parse(body);
    } catch (error) {
      throw new FileFormatError(`not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(values)) throw new FileFormatError('expected a JSON array of users');
    const lines = elementStartLines(body);
    return values.map((record, i) => ({ line: lines[i] ?? 1, record }));
  }
  const records: FileRecord[] = [];
  body.split('\n').forEach((raw, index) => {
    if (!raw.trim()) return;
    try {
      records.push({ line: index + 1, record: JSON.parse(raw) });
    } catch (error) {
      throw new FileFormatError(`line ${index + 1}: not valid JSON: ${(error as Error).message}`);
    }
  });
  return records;
}

/** The 1-based line on which each element of the top-level JSON array (already validated) starts. */
function elementStartLines(text: string): number[] {
  const starts: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectingElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') continue;
    if (depth === 1 && expectingElement && c !== ']') {
      starts.push(line);
      expectingElement = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectingElement = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectingElement = true;
  }
  return starts;
}

/** RFC 4180 CSV with a header row; quoted fields may span lines. Empty cells become absent fields. */
function parseCsv(text: string): FileRecord[] {
  const rows: Array<{ line: number; cells: string[] }> = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const body = text.replace(/^\uFEFF/, '');
  const endRow = () => {
    cells.push(cell);
    if (cells.length > 1 || cells[0] !== '') rows.push({ line: rowLine, cells });
    cells = [];
    cell = '';
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else if (c === '\n') {
      endRow();
      line++;
      rowLine = line;
    } else if (c !== '\r') cell += c;
  }
  if (quoted) throw new FileFormatError(`line ${rowLine}: a quoted field is not closed`);
  if (cell !== '' || cells.length) endRow();
  const header = rows.shift();
  if (!header) return [];
  const columns = header.cells.map((c) => c.trim());
  if (!columns.includes('email')) throw new FileFormatError('the CSV header has no "email" column');
  return rows.map(({ line: at, cells: values }) => {
    const raw: Record<string, string> = {};
    columns.forEach((column, i) => {
      const value = values[i];
      if (value !== undefined && value !== '') raw[column] = value;
    });
    return { line: at, record: csvToRecord(raw) };
  });
}

/** Turns CSV strings into the types the importer expects (JSON profile, `;` groups, booleans). */
function csvToRecord(raw: Record<string, string>): Record<string, unknown> {
  const record: Record<string, unknown> = { ...raw };
  if (raw.groups !== undefined) record.groups = raw.groups.split(';').map((g) => g.trim()).filter(Boolean);
  if (raw.profile !== undefined) {
    try {
      record.profile = JSON.parse(raw.profile);
    } catch {
      // Left as a string: the importer reports "profile: expected an object" with the line.
    }
  }
  if (raw.email_verified !== undefined) record.email_verified = /^(true|yes|1)$/i.test(raw.email_verified);
  for (const column of ['email_verified_at', 'banned_until', 'ban_reason'] as const) {
    if (raw[column] === undefined) record[column] = null;
  }
  if (raw.email_verified !== undefined && raw.email_verified_at === undefined) delete record.email_verified_at;
  return record;
}
