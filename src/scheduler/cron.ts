/**
 * Cron maths, delegated to croner: parsing a 5-field expression and finding the next matching
 * minute. Only the computation is croner's; the run loop is the scheduler's own, so that an
 * injected clock (a ManualClock in tests) decides what is due.
 */
import { Cron } from 'croner';

/**
 * The first instant strictly after `after` that matches `expression` (5 fields, UTC).
 * @returns null when the expression can never match again (e.g. `0 0 30 2 *`).
 * @throws Error (croner's message) when the expression is malformed; configuration validates
 *   every `SCHEDULE_*` variable first, so this only happens with programmatic input.
 */
export function nextRunAfter(expression: string, after: Date): Date | null {
  return new Cron(expression, { mode: '5-part', timezone: 'UTC' }).nextRun(after);
}
