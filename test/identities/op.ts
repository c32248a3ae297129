/**
 * A real OpenID Provider for the social sign-in tests: panva's `oidc-provider` (certified OP)
 * in this process on 127.0.0.1, with discovery, PKCE, nonce, its dev login and consent pages
 * (`devInteractions`: any password is accepted, the login name picks the account) and test
 * accounts whose email and `email_verified` claims the test sets. One confidential client,
 * `gatehouse`, whose redirect URI is Gatehouse's callback.
 *
 * Also {@link FlowClient}: a fetch-driven user agent with a cookie jar that follows redirects
 * and fills the OP's login and consent forms, as a person in a browser would.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An account at the test OP: its login name is its `sub`. */
export interface OpAccount {
  email: string;
  email_verified: boolean;
  name?: string;
}

/** A running test OP. */
export interface TestOp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Accounts by login name (`sub`); add or change them at any time. */
  accounts: Map<string, OpAccount>;
  close(): Promise<void>;
}

/**
 * Starts the OP on a free loopback port.
 * @param redirectUris the client's registered redirect URIs (Gatehouse's callbacks).
 */
export async function startTestOp(redirectUris: string[]): Promise<TestOp> {
  // oidc-provider warns that Node 20 is not a supported runtime; it serves the code flow fine.
  const originalWarn = console.warn;
  // oidc-provider ships no type declarations; the little used here is typed below.
  const moduleName = 'oidc-provider';
  const { default: Provider } = (await import(moduleName)) as { default: new (issuer: string, config: unknown) => OidcProvider };
  console.warn = originalWarn;
  const accounts = new Map<string, OpAccount>();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'gatehouse';
  const clientSecret = 'gatehouse-test-client-secret-0123456789';
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris, grant_types: ['authorization_code'], response_types: ['code'] }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: ['test-op-cookie-key-0123456789abcdef'] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    async findAccount(_ctx: unknown, id: string) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, email: account.email, email_verified: account.email_verified, name: account.name ?? id }) };
    },
  });
  provider.on('server_error', (_ctx: unknown, error: Error) => console.error('test OP server_error', error));
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

interface OidcProvider {
  callback(): (req: unknown, res: unknown) => void;
  on(event: string, listener: (...args: never[]) => void): void;
}

/** One response the client saw. */
export interface Step {
  url: string;
  status: number;
  location: string | null;
  contentType: string;
  body: string;
}

/**
 * A fetch-driven user agent: a cookie jar per origin, manual redirects (each one recorded), and
 * the OP's dev forms filled in.
 */
export class FlowClient {
  /** Cookies by origin, then name. Path and expiry are honoured only as far as deletion goes. */
  readonly jar = new Map<string, Map<string, string>>();
  /** Every response of the last {@link follow}. */
  steps: Step[] = [];

  /** The `Cookie` header for `url`. */
  cookieHeader(url: string): string {
    const cookies = this.jar.get(new URL(url).origin);
    return cookies ? [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  /** A cookie's value for `origin`, or undefined. */
  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(origin)?.get(name);
  }

  private store(url: string, response: Response): void {
    const origin = new URL(url).origin;
    const cookies = this.jar.get(origin) ?? new Map<string, string>();
    this.jar.set(origin, cookies);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq).trim();
      const value = (pair ?? '').slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now()));
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
  }

  /** One request with the jar's cookies; records the response. */
  async request(url: string, init: { method?: string; form?: Record<string, string>; accept?: string } = {}): Promise<Step> {
    const headers: Record<string, string> = { accept: init.accept ?? 'text/html,application/xhtml+xml' };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
      headers.origin = new URL(url).origin;
    }
    const response = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    this.store(url, response);
    const step: Step = {
      url,
      status: response.status,
      location: response.headers.get('location') ? new URL(response.headers.get('location') as string, url).toString() : null,
      contentType: response.headers.get('content-type') ?? '',
      body: await response.text(),
    };
    this.steps.push(step);
    return step;
  }

  /**
   * Follows redirects from `url`, signing in at the OP as `login` and granting consent (or
   * aborting it when `deny`), until a response is not a redirect or the next URL is one of
   * `stopAt` (with any query; that URL is not requested).
   * @returns the last response, and the URL the client stopped at (if any).
   */
  async follow(url: string, options: { login: string; deny?: boolean; stopAt?: string[]; accept?: string }): Promise<{ last: Step; stoppedAt: string | null }> {
    this.steps = [];
    let next: string | null = url;
    let method: 'GET' | 'POST' = 'GET';
    let form: Record<string, string> | undefined;
    let last: Step | undefined;
    for (let hops = 0; next && hops < 30; hops++) {
      if (last && options.stopAt?.some((stop) => next === stop || (next as string).startsWith(`${stop}?`))) return { last, stoppedAt: next };
      last = await this.request(next, { method, ...(form ? { form } : {}), ...(options.accept ? { accept: options.accept } : {}) });
      method = 'GET';
      form = undefined;
      if (last.status >= 300 && last.status < 400 && last.location) {
        next = last.location;
        continue;
      }
      const page = parseForm(last.body, last.url);
      if (last.status === 200 && page) {
        if (page.inputs.prompt === 'login') {
          next = page.action;
          method = 'POST';
          form = { ...page.inputs, login: options.login, password: 'any password' };
          continue;
        }
        if (page.inputs.prompt === 'consent') {
          if (options.deny) {
            const abort = /href="([^"]*\/abort)"/.exec(last.body)?.[1];
            if (!abort) throw new Error('the consent page has no abort link');
            next = new URL(abort.replaceAll('&amp;', '&'), last.url).toString();
            continue;
          }
          next = page.action;
          method = 'POST';
          form = page.inputs;
          continue;
        }
      }
      next = null;
    }
    if (!last) throw new Error('no request was made');
    return { last, stoppedAt: null };
  }
}

/** The first form of an HTML page: its absolute action and its named inputs' values. */
function parseForm(html: string, base: string): { action: string; inputs: Record<string, string> } | null {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return null;
  const inputs: Record<string, string> = {};
  for (const input of (form[2] ?? '').matchAll(/<input[^>]*>/gi)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) inputs[name] = value.replaceAll('&amp;', '&');
  }
  return { action: new URL((form[1] ?? '').replaceAll('&amp;', '&'), base).toString(), inputs };
}
