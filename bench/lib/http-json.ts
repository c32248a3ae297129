/**
 * A minimal JSON-over-HTTP client for the job bench: `node:http` with one keep-alive socket per
 * client (a simulated worker is one connection, as a real worker process with a keep-alive agent
 * would be). Cheaper per request than `fetch` on Node 20, so the load generator's own cost stays
 * small next to the server's.
 */
import http from 'node:http';

/** One answer: the status and the parsed JSON body (`undefined` when the body was empty). */
export interface JsonResponse {
  status: number;
  body: unknown;
}

/** A keep-alive client bound to one base URL and one set of headers (e.g. an API key). */
export class JsonClient {
  private readonly agent: http.Agent;
  private readonly url: URL;

  /**
   * @param base e.g. `http://127.0.0.1:3000`
   * @param headers sent with every request (e.g. `{authorization: 'Bearer gh_…'}`)
   */
  constructor(
    base: string,
    private readonly headers: Record<string, string>,
  ) {
    this.url = new URL(base);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Sends one request; `body` is JSON-encoded when given. Rejects on socket errors only. */
  request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<JsonResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          agent: this.agent,
          headers: {
            ...this.headers,
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = text;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like {@link request} but throws unless the status is one of `expected`. */
  async expect(expected: number[], method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<JsonResponse> {
    const res = await this.request(method, path, body);
    if (!expected.includes(res.status)) {
      throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    }
    return res;
  }

  /** Closes the keep-alive socket. */
  close(): void {
    this.agent.destroy();
  }
}
