/** Live events over SSE and WebSocket as a platform feature. */
import { definePlatformFeature } from '../platform/feature.js';
import { eventsRoutes } from './events.routes.js';
import { wsRoutes } from './ws.routes.js';

/** The realtime feature: `GET /events` (SSE) and `GET /ws` (WebSocket). */
export const realtimeFeature = definePlatformFeature({
  name: 'realtime',
  description: 'Live events of jobs, queues and module topics over SSE and WebSocket, resumable with Last-Event-ID.',
  async routes(api, gatehouse) {
    await api.register(eventsRoutes, { live: gatehouse.live });
    await api.register(wsRoutes, { live: gatehouse.live });
  },
});
