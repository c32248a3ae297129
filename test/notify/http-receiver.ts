/**
 * A real HTTP receiver for webhook tests: node:http on 127.0.0.1 that answers every POST with
 * 200 `ok` (as a Mattermost incoming webhook does) and records each request. {@link HttpReceiver.hold}
 * keeps the answers back, so a test can look at a delivery while it is in flight.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Recorder } from '../helpers/recorder.js';

/** One request the receiver got. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, as received. */
  body: string;
  json: unknown;
}

/** A running receiver. */
export interface HttpReceiver {
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  requests: ReceivedRequest[];
  /** Resolves with the first request (received or coming) matching `predicate`. */
  waitFor(predicate: (request: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest>;
  /** Records requests but answers none until the returned function is called (which answers those held). */
  hold(): () => void;
  stop(): Promise<void>;
}

/** Starts a receiver on `port` (0 = any free port; a fixed port brings one back where a server expects it). */
export async function startHttpReceiver(port = 0): Promise<HttpReceiver> {
  const received = new Recorder<ReceivedRequest>('request', (requests) => `${requests.length} request(s)`);
  let held: Promise<void> | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        // Not JSON: recorded as is.
      }
      const request: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json };
      received.record(request);
      const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      if (held) void held.then(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    requests: received.items,
    waitFor: (predicate, timeoutMs) => received.waitFor(predicate, timeoutMs),
    hold: () => {
      let release: () => void = () => undefined;
      held = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        held = undefined;
        release();
      };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
