import { v7 } from 'uuid';

/**
 * A new UUIDv7 (RFC 9562 §5.7) string: time-ordered, so primary keys stay index-friendly and
 * cursor pagination can order by id.
 */
export function newId(): string {
  return v7();
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a syntactically valid UUID (any version). */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
