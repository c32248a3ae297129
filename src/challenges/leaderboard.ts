/**
 * Leaderboard ranking, free of I/O: each participant's best scored submission by one score and a
 * direction, ordered best first, with standard competition ranking ("1224": equal scores share a
 * rank, and the next rank skips as many places as shared it). Among equal scores the earlier
 * submission comes first (and, within one participant, is the one kept as their best).
 */

/** A scored submission as the ranking needs it. */
export interface RankableSubmission {
  submission_id: string;
  user_id: string;
  /** Every score the evaluators reported. */
  scores: Record<string, number>;
  /** ISO-8601 UTC; earlier wins ties. */
  created_at: string;
}

/** One leaderboard row. */
export interface RankedEntry extends RankableSubmission {
  /** 1-based competition rank. */
  rank: number;
  /** The ranked score (`scores[score]`). */
  score: number;
}

/** How a challenge ranks: the score name and whether lower (`asc`) or higher (`desc`) is better. */
export interface RankingRule {
  score: string;
  direction: 'asc' | 'desc';
}

/**
 * True when `a` ranks strictly before `b` (better score, or an equal score submitted earlier; the
 * id breaks exact time ties so the order is total).
 */
function before(rule: RankingRule, a: { score: number; created_at: string; submission_id: string }, b: typeof a): boolean {
  if (a.score !== b.score) return rule.direction === 'desc' ? a.score > b.score : a.score < b.score;
  if (a.created_at !== b.created_at) return a.created_at < b.created_at;
  return a.submission_id < b.submission_id;
}

/**
 * Ranks submissions: keeps each user's best (submissions without a finite `rule.score` are
 * ignored), orders them best first, and numbers them with competition ranks.
 * @returns the entries in leaderboard order. O(n log n).
 */
export function rankSubmissions(submissions: readonly RankableSubmission[], rule: RankingRule): RankedEntry[] {
  const best = new Map<string, RankableSubmission & { score: number }>();
  for (const s of submissions) {
    const score = s.scores[rule.score];
    if (typeof score !== 'number' || !Number.isFinite(score)) continue;
    const candidate = Object.assign({}, s, { score });
    const current = best.get(s.user_id);
    if (!current || before(rule, candidate, current)) best.set(s.user_id, candidate);
  }
  const ordered = [...best.values()].sort((a, b) => (before(rule, a, b) ? -1 : before(rule, b, a) ? 1 : 0));
  const ranked: RankedEntry[] = [];
  ordered.forEach((entry, i) => {
    const previous = ranked[i - 1];
    const rank = previous && previous.score === entry.score ? previous.rank : i + 1;
    ranked.push(Object.assign({}, entry, { rank }));
  });
  return ranked;
}
