/**
 * The challenges API as the participant pages use it (src/challenges/challenges.routes.ts is the
 * truth; the shapes below mirror its views): queries with their keys, the join call, and the
 * submission upload (with progress).
 */
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { api, isApiError, type Page, uploadWithProgress } from '../../api/client';

/** `Challenge`: one challenge (`opens_at`/`closes_at` ISO-8601 UTC or null). */
export interface Challenge {
  id: string;
  slug: string;
  title: string;
  /** Markdown. */
  description: string;
  url: string | null;
  active: boolean;
  opens_at: string | null;
  closes_at: string | null;
  /** The job kinds (and queues) that evaluate each submission. */
  evaluators: Array<{ kind: string; queue: string }>;
  leaderboard: { score: string; direction: 'asc' | 'desc' };
  limits: { per_day: number | null; concurrent: number | null };
  visibility: 'public' | 'participants';
  created_at: string;
  updated_at: string;
}

/** `ChallengeResource`: a downloadable file of a challenge (`size` in bytes). */
export interface Resource {
  id: string;
  name: string;
  size: number;
  sha256: string;
  hidden: boolean;
  download_url: string;
  created_at: string;
}

/** One evaluator's run on a submission (`progress` in 0..1). */
export interface Evaluation {
  kind: string;
  queue: string;
  job_id: string;
  state: 'pending' | 'succeeded' | 'failed';
  scores: Record<string, number>;
  error: string | null;
  progress: number;
  progress_message: string | null;
  updated_at: string;
}

/** `Submission`: one upload and its evaluations; `scores` are complete once `scored`. */
export interface Submission {
  id: string;
  challenge: string;
  user_id: string;
  state: 'evaluating' | 'scored' | 'failed';
  scores: Record<string, number>;
  errors: Array<{ kind: string; message: string }>;
  files: string[];
  evaluations: Evaluation[];
  created_at: string;
  updated_at: string;
  settled_at: string | null;
}

/** `LeaderboardItem`: a participant's best scored submission; equal scores share `rank` (1, 2, 2, 4). */
export interface LeaderboardRow {
  rank: number;
  user: { id: string; name: string; profile: Record<string, unknown> };
  submission_id: string;
  score: number;
  scores: Record<string, number>;
  submitted_at: string;
}

/** Query keys, so live events and mutations refresh the right caches. */
export const challengeKeys = {
  list: ['challenges'] as const,
  one: (slug: string) => ['challenges', slug] as const,
  resources: (slug: string) => ['challenges', slug, 'resources'] as const,
  membership: (slug: string) => ['challenges', slug, 'membership'] as const,
  submissions: (slug: string) => ['challenges', slug, 'submissions'] as const,
  leaderboard: (slug: string) => ['challenges', slug, 'leaderboard'] as const,
};

const PAGE_SIZE = 50;

/** Challenges visible to the caller, a page at a time (`fetchNextPage` follows the cursor). */
export function useChallengeList() {
  return useInfiniteQuery({
    queryKey: challengeKeys.list,
    queryFn: ({ pageParam }) => api<Page<Challenge>>('/challenges', { query: { limit: PAGE_SIZE, cursor: pageParam } }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

/** One challenge (404 → an ApiError the page shows). */
export function useChallenge(slug: string) {
  return useQuery({ queryKey: challengeKeys.one(slug), queryFn: () => api<Challenge>(`/challenges/${encodeURIComponent(slug)}`) });
}

/** The resources the caller may download. */
export function useResources(slug: string) {
  return useQuery({
    queryKey: challengeKeys.resources(slug),
    queryFn: async () => (await api<{ items: Resource[] }>(`/challenges/${encodeURIComponent(slug)}/resources`)).items,
  });
}

/** When the signed-in user joined, or `null` when they have not (`GET …/participants/me` answered 404). */
export function useMembership(slug: string, enabled: boolean) {
  return useQuery({
    queryKey: challengeKeys.membership(slug),
    enabled,
    queryFn: async () => {
      try {
        return await api<{ joined_at: string }>(`/challenges/${encodeURIComponent(slug)}/participants/me`);
      } catch (error) {
        if (isApiError(error, 404) || isApiError(error, 403)) return null;
        throw error;
      }
    },
  });
}

/** Joins the challenge (idempotent on the server). */
export function joinChallenge(slug: string): Promise<{ joined_at: string }> {
  return api(`/challenges/${encodeURIComponent(slug)}/participants`, { method: 'POST' });
}

/** The signed-in user's (`userId`) submissions, newest first (the first page of 50; managers too see only theirs). */
export function useMySubmissions(slug: string, userId: string) {
  return useQuery({
    queryKey: challengeKeys.submissions(slug),
    queryFn: async () => (await api<Page<Submission>>(`/challenges/${encodeURIComponent(slug)}/submissions`, { query: { limit: PAGE_SIZE, user_id: userId } })).items,
  });
}

/** The leaderboard, 100 rows a page (`fetchNextPage` follows the cursor: the last row's submission). */
export function useLeaderboard(slug: string) {
  return useInfiniteQuery({
    queryKey: challengeKeys.leaderboard(slug),
    queryFn: ({ pageParam }) => api<Page<LeaderboardRow>>(`/challenges/${encodeURIComponent(slug)}/leaderboard`, { query: { limit: 100, cursor: pageParam } }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

/**
 * Uploads `files` as one submission (multipart, one `file` part each) and reports the fraction
 * of bytes sent (0..1) to `onProgress`.
 * @returns the submission the server accepted (`202`, state `evaluating`).
 * @throws ApiError with the server's problem (403 not_participant, 409 challenge_closed, 413,
 *   429 submission_limit…), status 0 `network_error` when the upload never got an answer, or an
 *   `AbortError` when `signal` aborts it.
 */
export function uploadSubmission(slug: string, files: File[], onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<Submission> {
  const form = new FormData();
  for (const file of files) form.append('file', file, file.name);
  return uploadWithProgress<Submission>(`/challenges/${encodeURIComponent(slug)}/submissions`, form, onProgress, signal);
}

/** Whether the challenge takes submissions at `now`: active and inside `opens_at..closes_at`. */
export function challengeStatus(challenge: Challenge, now = Date.now()): 'open' | 'upcoming' | 'closed' {
  if (!challenge.active) return 'closed';
  if (challenge.opens_at && Date.parse(challenge.opens_at) > now) return 'upcoming';
  if (challenge.closes_at && Date.parse(challenge.closes_at) <= now) return 'closed';
  return 'open';
}

/** A score for people: up to 4 decimals, trailing zeros dropped (`0.75`, `0.8333`). */
export function formatScore(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return String(Number(value.toFixed(4)));
}
