/** The worker SDK records an upload's content type from its extension when none is given. */
import { describe, expect, it } from 'vitest';
import { contentTypeOf } from '../../src/worker/client.js';

describe('contentTypeOf', () => {
  it.each([
    ['/tmp/out.png', 'image/png'],
    ['report.JSON', 'application/json'],
    ['a.b/c.tar.gz', 'application/gzip'],
    ['speech.wav', 'audio/wav'],
    ['no-extension', 'application/octet-stream'],
    ['weird.xyz', 'application/octet-stream'],
  ])('%s → %s', (file, type) => {
    expect(contentTypeOf(file)).toBe(type);
  });
});
