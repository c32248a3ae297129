/**
 * Accounts the server makes for itself. Their addresses are in the reserved `.invalid` domain
 * (RFC 2606), so they can never receive mail or collide with a person's.
 */

/** The `worker` account whose API keys the built-in worker threads claim with (src/modules/builtin-workers.ts). */
export const BUILTIN_WORKER_EMAIL = 'builtin-workers@gatehouse.invalid';
