import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

/**
 * A new UUIDv7 (RFC 9562 §5.7) string: time-ordered, so primary keys stay index-friendly and
 * cursor pagination can order by id.
 */
export function newId(): string {
  return v7();
}

/** Random bytes for {@link newRequestId}, refilled from the CSPRNG once per 512 ids. */
const requestIdPool = Buffer.allocUnsafe(4096);
let requestIdPoolAt = requestIdPool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
let lastMs = 0;
let sequence = 0;

/**
 * A UUIDv7 for a request id: the same format as {@link newId} (48-bit Unix milliseconds, then
 * random bits), made without a call into the CSPRNG for each id. `rand_a` holds a 12-bit counter
 * within the millisecond (RFC 9562 §6.2, method 1, so ids made in one millisecond stay ordered and
 * distinct) and `rand_b` 62 bits from a pool of random bytes filled 4 KiB at a time. Request ids
 * are correlation handles, never secrets: the pool only keeps them hard to guess across processes.
 */
export function newRequestId(): string {
  // Wall-clock milliseconds as in any UUIDv7 (uuid's v7 reads Date.now() too); no domain time.
  // eslint-disable-next-line no-restricted-syntax
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    // 4,096 ids in one millisecond: borrow the next millisecond (the ids stay ordered).
    lastMs += 1;
    sequence = 0;
  }
  ms = lastMs;
  if (requestIdPoolAt > requestIdPool.length - 8) {
    randomFillSync(requestIdPool);
    requestIdPoolAt = 0;
  }
  const r = requestIdPool;
  const i = requestIdPoolAt;
  requestIdPoolAt += 8;
  const high = Math.floor(ms / 0x10000);
  const low = ms % 0x10000;
  return (
    HEX[(high >>> 24) & 0xff]! +
    HEX[(high >>> 16) & 0xff]! +
    HEX[(high >>> 8) & 0xff]! +
    HEX[high & 0xff]! +
    '-' +
    HEX[(low >>> 8) & 0xff]! +
    HEX[low & 0xff]! +
    '-' +
    HEX[0x70 | (sequence >>> 8)]! +
    HEX[sequence & 0xff]! +
    '-' +
    HEX[0x80 | (r[i]! & 0x3f)]! +
    HEX[r[i + 1]!]! +
    '-' +
    HEX[r[i + 2]!]! +
    HEX[r[i + 3]!]! +
    HEX[r[i + 4]!]! +
    HEX[r[i + 5]!]! +
    HEX[r[i + 6]!]! +
    HEX[r[i + 7]!]!
  );
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a syntactically valid UUID (any version). */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
