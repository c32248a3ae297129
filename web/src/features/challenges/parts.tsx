/** Small pieces the challenge pages share: the status badge. */

/** Open / upcoming / closed, as a badge with words (colour is never the only signal). */
export function StatusBadge({ status }: { status: 'open' | 'upcoming' | 'closed' }) {
  const label = status === 'open' ? 'Open' : status === 'upcoming' ? 'Not open yet' : 'Closed';
  return <span className={`badge ${status === 'open' ? 'ok' : status === 'upcoming' ? 'warn' : 'danger'}`}>{label}</span>;
}
