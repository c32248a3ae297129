/**
 * HTTP delivery transports for the outbox: a Mattermost (or Slack-compatible) incoming webhook
 * and the generic signed webhook. A delivery succeeds on any 2xx answer; anything else, a
 * network error or a timeout fails it and the outbox retries with backoff. Error messages
 * never contain the URL: a Mattermost hook URL is itself a secret.
 */
import type { OutboxRow } from '../db/schema.js';
import type { DeliveryTransport } from '../outbox/transport.js';
import type { Clock } from '../shared/clock.js';
import { VERSION } from '../version.js';
import { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './webhook-signature.js';

/** Longest an HTTP delivery may take, in milliseconds (well within the outbox lease of 60 s). */
export const HTTP_DELIVERY_TIMEOUT_MS = 15_000;

const USER_AGENT = `Gatehouse/${VERSION}`;

function bodyText(message: OutboxRow): string {
  // PostgreSQL's jsonb may hand back a re-serialised body; the bytes sent are signed, so either is fine.
  return typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
}

async function post(name: string, url: string, body: string, headers: Record<string, string>): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(HTTP_DELIVERY_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
    throw new Error(`${name} unreachable: ${detail}`);
  }
  const answer = (await response.text().catch(() => '')).slice(0, 200);
  if (!response.ok) throw new Error(`${name} answered HTTP ${response.status}${answer ? `: ${answer}` : ''}`);
}

/** Posts the stored `{ text }` to a Mattermost/Slack incoming webhook URL. */
export function createMattermostTransport(url: string): DeliveryTransport {
  return {
    channel: 'mattermost',
    description: `Mattermost webhook on ${new URL(url).host}`,
    deliver: async (message) => post('Mattermost webhook', url, bodyText(message), {}),
    close: () => undefined,
  };
}

/**
 * Posts the stored JSON payload to `url`, signed with `secret` at sending time (see
 * `webhook-signature.ts`), with `X-Gatehouse-Event` and `X-Gatehouse-Delivery` (the outbox id,
 * the same on every retry, so receivers can drop duplicates).
 */
export function createWebhookTransport(url: string, secret: string, clock: Clock): DeliveryTransport {
  return {
    channel: 'webhook',
    description: `webhook on ${new URL(url).host}`,
    async deliver(message) {
      const body = bodyText(message);
      const timestamp = Math.floor(clock.now().getTime() / 1000);
      await post('webhook', url, body, {
        [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
        [TIMESTAMP_HEADER]: String(timestamp),
        'X-Gatehouse-Event': message.subject,
        'X-Gatehouse-Delivery': message.id,
      });
    },
    close: () => undefined,
  };
}
