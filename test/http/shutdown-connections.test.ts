/**
 * Graceful shutdown is not held open by connections that never sent a request (a browser's
 * preconnect) or that stopped mid-body: once no request is being answered, every connection ends.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../helpers/harness.js';

describe('shutdown with idle connections', () => {
  it('app.close() ends connections without a request at once', async () => {
    const ctx = await createTestContext('sqlite');
    try {
      await ctx.app.listen({ host: '127.0.0.1', port: 0 });
      const address = ctx.app.server.address();
      if (!address || typeof address === 'string') throw new Error('no TCP address');
      const silent = connect(address.port, '127.0.0.1');
      const halfBody = connect(address.port, '127.0.0.1');
      // The server resets them on close; that is the point.
      for (const s of [silent, halfBody]) s.on('error', () => undefined);
      await Promise.all([silent, halfBody].map((s) => new Promise((r) => s.once('connect', r))));
      halfBody.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"em');
      const ended = Promise.all([silent, halfBody].map((s) => new Promise((r) => s.once('close', r))));
      const started = Date.now();
      await ctx.app.close();
      await ended;
      // Not a speed check: without the sweep the close waits for the 60 s headers timeout.
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await ctx.close();
    }
  });
});
