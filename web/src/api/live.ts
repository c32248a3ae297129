/**
 * Live events over one shared WebSocket (`GET /api/v1/ws`, cookie-authenticated). Pages
 * subscribe to topics (`job:{id}`, `queue:{name}`, module topics such as `submission:{id}`,
 * `campaign:{id}`, `speech-session:{id}`) with {@link useLiveEvents}; the socket reconnects with
 * backoff and re-subscribes with `after` set to the last event id seen per topic, so the server
 * replays what was missed (the same guarantee as SSE's `Last-Event-ID`).
 */
import { useEffect, useRef, useState } from 'react';

/** An event as the server sends it inside `{"type":"event","event":…}`; `id` orders events. */
export interface LiveEvent {
  id: number;
  topic?: string;
  type?: string;
  [field: string]: unknown;
}

/** The socket's state, for a page that shows whether it is live. */
export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

type Listener = (event: LiveEvent) => void;

interface Subscription {
  topics: string[];
  listener: Listener;
  after: number | null;
}

/** The one socket of this tab and its subscriptions. */
class LiveConnection {
  private socket: WebSocket | null = null;
  private readonly subscriptions = new Set<Subscription>();
  private readonly statusListeners = new Set<(status: LiveStatus) => void>();
  private retryMs = 500;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  status: LiveStatus = 'closed';

  add(subscription: Subscription): () => void {
    this.subscriptions.add(subscription);
    if (this.socket?.readyState === WebSocket.OPEN) this.send(subscription);
    else this.open();
    return () => {
      this.subscriptions.delete(subscription);
      if (this.socket?.readyState === WebSocket.OPEN) {
        const stillWanted = new Set([...this.subscriptions].flatMap((s) => s.topics));
        const topics = subscription.topics.filter((topic) => !stillWanted.has(topic));
        if (topics.length) this.socket.send(JSON.stringify({ type: 'unsubscribe', topics }));
      }
      if (!this.subscriptions.size) this.close();
    };
  }

  onStatus(listener: (status: LiveStatus) => void): () => void {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => this.statusListeners.delete(listener);
  }

  private setStatus(status: LiveStatus): void {
    this.status = status;
    for (const listener of this.statusListeners) listener(status);
  }

  private open(): void {
    if (this.socket || this.retryTimer) return;
    const url = new URL('/api/v1/ws', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url);
    this.socket = socket;
    this.setStatus(this.status === 'closed' ? 'connecting' : 'reconnecting');
    socket.onopen = () => {
      this.retryMs = 500;
      this.setStatus('live');
      for (const subscription of this.subscriptions) this.send(subscription);
    };
    socket.onmessage = (message) => {
      let data: { type?: string; event?: LiveEvent; code?: string };
      try {
        data = JSON.parse(String(message.data));
      } catch {
        return;
      }
      if (data.type !== 'event' || !data.event) return;
      const event = data.event;
      for (const subscription of this.subscriptions) {
        if (event.topic !== undefined && !subscription.topics.includes(event.topic) && !matchesJobTopic(subscription.topics, event)) continue;
        if (subscription.after !== null && event.id <= subscription.after) continue;
        subscription.after = event.id;
        subscription.listener(event);
      }
    };
    socket.onclose = (close) => {
      this.socket = null;
      // 4401: the session ended (sign-out elsewhere, password change, ban): do not retry.
      if (close.code === 4401 || !this.subscriptions.size) {
        this.setStatus('closed');
        return;
      }
      this.setStatus('reconnecting');
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.open();
      }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 15_000);
    };
  }

  private send(subscription: Subscription): void {
    this.socket?.send(JSON.stringify({ type: 'subscribe', topics: subscription.topics, ...(subscription.after !== null ? { after: subscription.after } : {}) }));
  }

  private close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.setStatus('closed');
  }
}

/** Job events carry `job_id` and `queue` rather than a `topic`: route them to `job:`/`queue:` subscribers. */
function matchesJobTopic(topics: string[], event: LiveEvent): boolean {
  if (event.topic !== undefined) return false;
  return (
    (typeof event.job_id === 'string' && topics.includes(`job:${event.job_id}`)) ||
    (typeof event.queue === 'string' && topics.includes(`queue:${event.queue}`))
  );
}

const connection = new LiveConnection();

/**
 * Calls `onEvent` for each live event on `topics` while the component is mounted (and `enabled`).
 * `after` starts the replay after that event id (e.g. the last one a page already fetched).
 * The listener may change between renders without re-subscribing.
 */
export function useLiveEvents(topics: string[], onEvent: Listener, options: { enabled?: boolean; after?: number | null } = {}): LiveStatus {
  const listener = useRef(onEvent);
  listener.current = onEvent;
  const [status, setStatus] = useState<LiveStatus>(connection.status);
  const key = topics.join('\n');
  const enabled = options.enabled ?? true;
  useEffect(() => {
    if (!enabled || !key) return;
    const unsubscribe = connection.add({ topics: key.split('\n'), listener: (event) => listener.current(event), after: options.after ?? null });
    const unwatch = connection.onStatus(setStatus);
    return () => {
      unwatch();
      unsubscribe();
    };
    // `after` is read once per subscription: later changes must not re-subscribe.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, enabled]);
  return status;
}
