/**
 * The challenges module's pure arithmetic: leaderboard ranking against a brute-force reference on
 * random data (many ties), and the score-predictions evaluator against hand-computed values and
 * an independent numpy implementation.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type RankableSubmission, rankSubmissions } from '../../src/challenges/leaderboard.js';
import { CsvFormatError, parseLabelCsv, scorePredictions } from '../../src/challenges/score-predictions.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Reference ranking, written independently of the module: for each user, scan all their
 * submissions for the best (better score, else earlier time, else smaller id); the rank of an
 * entry is 1 + the number of entries with a strictly better score (standard competition ranking);
 * the order is by (rank, time, id).
 */
function bruteForce(subs: RankableSubmission[], score: string, direction: 'asc' | 'desc') {
  const better = (x: number, y: number) => (direction === 'desc' ? x > y : x < y);
  const users = [...new Set(subs.map((s) => s.user_id))];
  const best = users
    .map((u) => {
      let pick: (RankableSubmission & { score: number }) | undefined;
      for (const s of subs) {
        const v = s.scores[score];
        if (s.user_id !== u || typeof v !== 'number') continue;
        if (
          !pick ||
          better(v, pick.score) ||
          (v === pick.score && (s.created_at < pick.created_at || (s.created_at === pick.created_at && s.submission_id < pick.submission_id)))
        ) {
          pick = { ...s, score: v };
        }
      }
      return pick;
    })
    .filter((p): p is RankableSubmission & { score: number } => p !== undefined);
  const withRank = best.map((b) => ({ ...b, rank: 1 + best.filter((o) => better(o.score, b.score)).length }));
  return withRank.sort((a, b) => a.rank - b.rank || (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.submission_id < b.submission_id ? -1 : 1));
}

describe('leaderboard ranking', () => {
  it('ranks a hand-computed board: best per user, shared ranks 1, 2, 2, 4, earlier first among equals', () => {
    const t = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString();
    const subs: RankableSubmission[] = [
      { submission_id: 's1', user_id: 'ann', scores: { acc: 0.5 }, created_at: t(1) },
      { submission_id: 's2', user_id: 'ann', scores: { acc: 0.9 }, created_at: t(2) },
      { submission_id: 's3', user_id: 'bob', scores: { acc: 0.8 }, created_at: t(3) },
      { submission_id: 's4', user_id: 'cy', scores: { acc: 0.8 }, created_at: t(1) },
      { submission_id: 's5', user_id: 'dee', scores: { acc: 0.7 }, created_at: t(0) },
      { submission_id: 's6', user_id: 'dee', scores: { acc: 0.7 }, created_at: t(5) },
      { submission_id: 's7', user_id: 'eve', scores: { other: 1 }, created_at: t(0) },
    ];
    const board = rankSubmissions(subs, { score: 'acc', direction: 'desc' });
    expect(board.map((e) => [e.rank, e.user_id, e.submission_id, e.score])).toEqual([
      [1, 'ann', 's2', 0.9],
      [2, 'cy', 's4', 0.8],
      [2, 'bob', 's3', 0.8],
      [4, 'dee', 's5', 0.7],
    ]);
    const asc = rankSubmissions(subs, { score: 'acc', direction: 'asc' });
    expect(asc.map((e) => [e.rank, e.user_id, e.submission_id])).toEqual([
      [1, 'ann', 's1'],
      [2, 'dee', 's5'],
      [3, 'cy', 's4'],
      [3, 'bob', 's3'],
    ]);
  });

  it('matches the brute-force reference on random boards with many ties', () => {
    const random = prng(20261205);
    for (let round = 0; round < 200; round++) {
      const users = 1 + Math.floor(random() * 12);
      const count = Math.floor(random() * 60);
      const subs: RankableSubmission[] = Array.from({ length: count }, (_, i) => ({
        submission_id: `s${String(i).padStart(3, '0')}-${Math.floor(random() * 1000)}`,
        user_id: `u${Math.floor(random() * users)}`,
        // Few distinct values and times: ties everywhere.
        scores: (random() < 0.1 ? { other: 1 } : { score: Math.floor(random() * 5) / 4 }) as Record<string, number>,
        created_at: new Date(Date.UTC(2026, 0, 1, 0, Math.floor(random() * 8))).toISOString(),
      }));
      for (const direction of ['asc', 'desc'] as const) {
        const got = rankSubmissions(subs, { score: 'score', direction }).map((e) => [e.rank, e.user_id, e.submission_id, e.score]);
        const want = bruteForce(subs, 'score', direction).map((e) => [e.rank, e.user_id, e.submission_id, e.score]);
        expect(got, `round ${round} ${direction}`).toEqual(want);
      }
    }
  });
});

describe('score-predictions', () => {
  it('scores a hand-computed case: accuracy 2/4, macro F1 (2/3 + 2/3 + 0)/3 = 4/9', () => {
    const refs = parseLabelCsv('id,label\na,cat\nb,dog\nc,dog\nd,bird\n', 'reference');
    const preds = parseLabelCsv('id,label\r\na,cat\r\nb,cat\r\nc,dog\r\ne,dog\r\n', 'submission');
    const result = scorePredictions(preds, refs);
    expect(result.scores.accuracy).toBe(0.5);
    expect(result.scores.macro_f1).toBeCloseTo(4 / 9, 12);
    expect(result.details).toEqual({ n: 4, missing: 1, extra: 1 });
  });

  it('a perfect submission scores 1 and 1; quoted fields and a BOM are read', () => {
    const refs = parseLabelCsv('\uFEFFID,Label\n"x,1",yes\ny,no\n', 'reference');
    expect([...refs.keys()]).toEqual(['x,1', 'y']);
    expect(scorePredictions(new Map(refs), refs)).toEqual({ scores: { accuracy: 1, macro_f1: 1 }, details: { n: 2, missing: 0, extra: 0 } });
  });

  it.each([
    ['', 1, 'empty'],
    ['name,value\na,b\n', 1, 'header'],
    ['id,label\na,b\nc\n', 3, 'expected 2 fields'],
    ['id,label\na,b\na,c\n', 3, 'appears twice'],
    ['id,label\n,b\n', 2, 'id is empty'],
    ['id,label\n"a,b\n', 2, 'not closed'],
  ])('a malformed CSV names its line: %j', (text, line, reason) => {
    let error: unknown;
    try {
      parseLabelCsv(text, 'submission');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CsvFormatError);
    expect((error as CsvFormatError).line).toBe(line);
    expect((error as Error).message).toContain(`submission, line ${line}`);
    expect((error as Error).message).toContain(reason);
  });

  it('agrees with an independent numpy computation on random predictions', () => {
    const random = prng(7);
    const labels = ['a', 'b', 'c', 'd'];
    const refs = new Map<string, string>();
    const preds = new Map<string, string>();
    for (let i = 0; i < 300; i++) {
      refs.set(`r${i}`, labels[Math.floor(random() * 3)]!);
      if (random() < 0.9) preds.set(`r${i}`, labels[Math.floor(random() * 4)]!);
    }
    for (let i = 0; i < 10; i++) preds.set(`x${i}`, 'a');
    const ours = scorePredictions(preds, refs);
    const script = `
import json, sys, numpy as np
d = json.load(sys.stdin)
ids = list(d['refs'].keys())
truth = np.array([d['refs'][i] for i in ids])
pred = np.array([d['preds'].get(i, '\\u0000missing') for i in ids])
labels = sorted(set(truth))
f1 = []
for l in labels:
    tp = np.sum((pred == l) & (truth == l)); fp = np.sum((pred == l) & (truth != l)); fn = np.sum((pred != l) & (truth == l))
    f1.append(2 * tp / (2 * tp + fp + fn))
print(json.dumps({'accuracy': float(np.mean(pred == truth)), 'macro_f1': float(np.mean(f1))}))
`;
    const out = execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify({ refs: Object.fromEntries(refs), preds: Object.fromEntries(preds) }) }).toString();
    const reference = JSON.parse(out) as { accuracy: number; macro_f1: number };
    expect(ours.scores.accuracy).toBeCloseTo(reference.accuracy, 12);
    expect(ours.scores.macro_f1).toBeCloseTo(reference.macro_f1, 12);
  });
});
