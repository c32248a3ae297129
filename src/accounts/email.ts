/** Email addresses as Gatehouse compares them. Pure functions: no database, no I/O. */

/**
 * Lower-cases and trims an email: the form the `user.email_normalized` unique index is on, so two
 * addresses are the same account exactly when their normal forms are equal.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
