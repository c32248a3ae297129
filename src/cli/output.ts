/** Small helpers for CLI output: aligned tables and exit codes. */

/** Exit codes of the `gatehouse` command. */
export const ExitCode = {
  ok: 0,
  /** Something failed (database unreachable, unexpected error). */
  failure: 1,
  /** The input was invalid (bad option, weak password, taken email). */
  invalidInput: 2,
  /** The operator cancelled (Ctrl-C at a prompt). */
  cancelled: 130,
} as const;

/**
 * Ends a command with `exitCode` (see {@link ExitCode}) after it printed its own output;
 * `message`, when given, goes to stderr.
 */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

/**
 * Renders rows as a plain-text table with a header line; columns are padded to their widest cell.
 * @param columns `[header, key]` pairs, in display order.
 */
export function renderTable<T extends Record<string, unknown>>(rows: T[], columns: Array<[string, keyof T]>): string {
  const cells = rows.map((row) => columns.map(([, key]) => formatCell(row[key])));
  const headers = columns.map(([header]) => header);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}
