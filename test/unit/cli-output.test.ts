/** Unit tests for `src/cli/output.ts`. */
import { describe, expect, it } from 'vitest';
import { ExitCode, renderTable } from '../../src/cli/output.js';

describe('renderTable', () => {
  const columns: Array<[string, 'email' | 'name' | 'verified' | 'role']> = [
    ['EMAIL', 'email'],
    ['NAME', 'name'],
    ['VERIFIED', 'verified'],
    ['ROLE', 'role'],
  ];

  it('pads each column to its widest cell under a header and a rule', () => {
    const text = renderTable(
      [
        { email: 'ada@example.com', name: 'Ada', verified: true, role: 'admin' },
        { email: 'b@example.com', name: 'Bartholomew', verified: false, role: 'user' },
      ],
      columns,
    );
    expect(text.split('\n')).toEqual([
      'EMAIL            NAME         VERIFIED  ROLE',
      '---------------  -----------  --------  -----',
      'ada@example.com  Ada          yes       admin',
      'b@example.com    Bartholomew  no        user',
    ]);
  });

  it('shows null and undefined as "-" and trims trailing spaces', () => {
    const text = renderTable([{ email: 'c@example.com', name: null, verified: undefined, role: '' }], columns);
    const lines = text.split('\n');
    expect(lines[2]).toBe('c@example.com  -     -');
    for (const line of lines) expect(line).toBe(line.trimEnd());
  });

  it('renders only the header and rule for no rows', () => {
    expect(renderTable([], [['EMAIL', 'email']])).toBe('EMAIL\n-----');
  });

  it('formats numbers and dates with String()', () => {
    const text = renderTable([{ n: 42, when: '2024-01-01T00:00:00.000Z' }], [
      ['N', 'n'],
      ['WHEN', 'when'],
    ]);
    expect(text.split('\n')[2]).toBe('42  2024-01-01T00:00:00.000Z');
  });
});

describe('ExitCode', () => {
  it('uses 0 for success, 2 for bad input and 130 for Ctrl-C', () => {
    expect(ExitCode).toMatchObject({ ok: 0, failure: 1, invalidInput: 2, cancelled: 130 });
  });
});
