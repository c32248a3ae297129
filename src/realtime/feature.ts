/** Live events over SSE and WebSocket as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';

/** The realtime feature: `GET /events` (SSE) and `GET /ws` (WebSocket). */
export const realtimeFeature = definePlatformFeature({
  name: 'realtime',
  description: 'Live events of jobs, queues and module topics over SSE and WebSocket, resumable with Last-Event-ID.',
  async routes(api, gatehouse) {
    // Loaded on first use: CLI commands never pay for the HTTP stack.
    const { eventsRoutes } = await import('./events.routes.js');
    const { wsRoutes } = await import('./ws.routes.js');
    await api.register(eventsRoutes, { live: gatehouse.live });
    await api.register(wsRoutes, { live: gatehouse.live });
  },
});
