/**
 * Pure helpers of the Files API: Range decisions (RFC 9110 §14), conditional-request matching
 * (§13), Content-Disposition encoding (RFC 6266 / 8187), file-name sanitising and content types.
 */
import { describe, expect, it } from 'vitest';
import { normalizeContentType, sanitizeFileName } from '../../src/files/files.service.js';
import { attachmentDisposition, decideRange, ifNoneMatchMatches, ifRangeAllows } from '../../src/files/http-range.js';

describe('decideRange', () => {
  const size = 1000;
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-99', { kind: 'partial', range: { start: 0, end: 99 } }],
    ['bytes=0-0', { kind: 'partial', range: { start: 0, end: 0 } }],
    ['BYTES = 10 - 19', { kind: 'partial', range: { start: 10, end: 19 } }],
    ['bytes=990-5000', { kind: 'partial', range: { start: 990, end: 999 } }],
    ['bytes=500-', { kind: 'partial', range: { start: 500, end: 999 } }],
    ['bytes=999-', { kind: 'partial', range: { start: 999, end: 999 } }],
    ['bytes=-100', { kind: 'partial', range: { start: 900, end: 999 } }],
    ['bytes=-5000', { kind: 'partial', range: { start: 0, end: 999 } }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=1000-1001', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=5-1', { kind: 'full' }],
    ['bytes=-', { kind: 'full' }],
    ['bytes=0-1,3-4', { kind: 'full' }],
    ['bytes=abc', { kind: 'full' }],
    ['items=0-1', { kind: 'full' }],
    ['bytes=99999999999999999999-', { kind: 'full' }],
  ] as const)('%s → %o', (header, expected) => {
    expect(decideRange(header, size)).toEqual(expected);
  });

  it('an empty representation: any first-byte range is unsatisfiable, a suffix answers whole', () => {
    expect(decideRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(decideRange('bytes=0-10', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(decideRange('bytes=-10', 0)).toEqual({ kind: 'full' });
  });
});

describe('conditional requests', () => {
  const etag = '"abc"';
  it('If-None-Match matches *, the tag in a list, and its weak form', () => {
    expect(ifNoneMatchMatches(undefined, etag)).toBe(false);
    expect(ifNoneMatchMatches('*', etag)).toBe(true);
    expect(ifNoneMatchMatches('"x", "abc"', etag)).toBe(true);
    expect(ifNoneMatchMatches('W/"abc"', etag)).toBe(true);
    expect(ifNoneMatchMatches('"abcd"', etag)).toBe(false);
    expect(ifNoneMatchMatches('abc', etag)).toBe(false);
  });
  it('If-Range allows the range only for the same strong tag', () => {
    expect(ifRangeAllows(undefined, etag)).toBe(true);
    expect(ifRangeAllows('"abc"', etag)).toBe(true);
    expect(ifRangeAllows('W/"abc"', etag)).toBe(false);
    expect(ifRangeAllows('Wed, 21 Oct 2015 07:28:00 GMT', etag)).toBe(false);
  });
});

describe('attachmentDisposition', () => {
  it('gives an ASCII fallback and the exact UTF-8 name (RFC 8187 attr-chars only)', () => {
    expect(attachmentDisposition('report.pdf')).toBe(`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
    expect(attachmentDisposition('naïve "quote" (1)*.txt')).toBe(
      `attachment; filename="na_ve _quote_ (1)*.txt"; filename*=UTF-8''na%C3%AFve%20%22quote%22%20%281%29%2A.txt`,
    );
    expect(attachmentDisposition("it's 100%.txt")).toBe(`attachment; filename="it's 100_.txt"; filename*=UTF-8''it%27s%20100%25.txt`);
    expect(attachmentDisposition('日本.txt')).toContain(`filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`);
  });
});

describe('sanitizeFileName', () => {
  it.each([
    [undefined, 'file'],
    ['', 'file'],
    ['   ', 'file'],
    ['.', 'file'],
    ['..', 'file'],
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\doc.txt', 'doc.txt'],
    ['a\u0000b\u001fc\u007f.txt', 'abc.txt'],
    ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
    ['what?<is>:this|"*.txt', 'what__is__this___.txt'],
    ['.bashrc', '.bashrc'],
    ['cafe\u0301.txt', 'café.txt'],
  ])('%j → %j', (raw, expected) => {
    expect(sanitizeFileName(raw)).toBe(expected);
  });

  it('shortens long names to 200 characters, keeping the extension', () => {
    const name = sanitizeFileName(`${'é'.repeat(300)}.tar.gz`);
    expect(Array.from(name)).toHaveLength(200);
    expect(name.endsWith('.gz')).toBe(true);
  });
});

describe('normalizeContentType', () => {
  it.each([
    [undefined, 'application/octet-stream'],
    ['', 'application/octet-stream'],
    ['Text/Plain', 'text/plain'],
    ['text/plain; charset=utf-8', 'text/plain; charset=utf-8'],
    ['application/json;charset="utf-8"', 'application/json;charset="utf-8"'],
    ['not a type', 'application/octet-stream'],
    ['text/html\r\nX-Injected: 1', 'application/octet-stream'],
    ['text/', 'application/octet-stream'],
    [`a/${'b'.repeat(300)}`, 'application/octet-stream'],
  ])('%j → %j', (raw, expected) => {
    expect(normalizeContentType(raw)).toBe(expected);
  });
});
