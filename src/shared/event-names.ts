/**
 * The one naming scheme of Gatehouse's events (docs/architecture.md, "Event names"):
 * `<object>.<past-tense verb>`, dotted, lower case, words inside a part joined with `_` (or `-`,
 * as in a topic prefix such as `speech-session`). `user.registered`, `job.failed`,
 * `submission.scored`. Notification events (the platform's and modules') and module topic event
 * types are checked against it; the names already shipped that do not read as a past-tense verb
 * are listed in the docs with the reason they stay.
 */

/** An event name's shape: two or more dotted lower-case parts (`noun.verb`). */
export const EVENT_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/;

/** True when `name` has the shape of an event name ({@link EVENT_NAME}). */
export function isEventName(name: string): boolean {
  return EVENT_NAME.test(name);
}
