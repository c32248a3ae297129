/**
 * `/challenges/$slug`: one challenge for a participant — its Markdown description, the resources
 * to download, Join, the submission form (upload progress), the participant's submissions with
 * each evaluation's progress followed live over the WebSocket (`submission:{id}`), and the
 * leaderboard (refreshed live from `challenge:{slug}`; equal scores share a rank; the signed-in
 * user's row is highlighted).
 */
import { useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { type FormEvent, useId, useRef, useState } from 'react';
import { isApiError } from '../../api/client';
import { type LiveEvent, useLiveEvents } from '../../api/live';
import { type Me, useMe } from '../../api/session';
import { Button, formatBytes, Loading, Notice, Page, ProblemAlert, Time } from '../../components/ui';
import {
  type Challenge,
  challengeKeys,
  challengeStatus,
  type Evaluation,
  formatScore,
  joinChallenge,
  type LeaderboardRow,
  type Submission,
  uploadSubmission,
  useChallenge,
  useLeaderboard,
  useMembership,
  useMySubmissions,
  useResources,
} from './api';
import { Markdown } from './markdown';
import { StatusBadge } from './parts';
import './challenges.css';

const route = getRouteApi('/challenges/$slug');

/** The challenge page. */
export function ChallengePage() {
  const { slug } = route.useParams();
  const challenge = useChallenge(slug);
  const me = useMe();
  if (challenge.isPending) return <Loading label="Loading the challenge…" />;
  if (challenge.error) {
    return (
      <Page title={isApiError(challenge.error, 404) ? 'Challenge not found' : 'The challenge could not be loaded'}>
        <ProblemAlert error={challenge.error} />
        <p>
          <Link to="/challenges">All challenges</Link>
        </p>
      </Page>
    );
  }
  const data = challenge.data;
  const status = challengeStatus(data);
  return (
    <Page title={data.title}>
      <p className="row muted">
        <StatusBadge status={status} />
        {data.opens_at ? (
          <span>
            Opens <Time iso={data.opens_at} />
          </span>
        ) : null}
        {data.closes_at ? (
          <span>
            Closes <Time iso={data.closes_at} />
          </span>
        ) : null}
        {data.url ? <a href={data.url}>Challenge website</a> : null}
      </p>
      {data.description ? <Markdown source={data.description} /> : null}
      <Resources slug={slug} />
      {me.data ? <Participation challenge={data} me={me.data} /> : me.data === null ? <SignInToJoin slug={slug} /> : null}
      <Leaderboard challenge={data} me={me.data ?? null} />
    </Page>
  );
}

function SignInToJoin({ slug }: { slug: string }) {
  return (
    <section aria-labelledby="participate-heading">
      <h2 id="participate-heading">Take part</h2>
      <p>
        <a href={`/sign-in?next=${encodeURIComponent(`/challenges/${slug}`)}`}>Sign in</a> to join this challenge and submit.
      </p>
    </section>
  );
}

function Resources({ slug }: { slug: string }) {
  const resources = useResources(slug);
  return (
    <section aria-labelledby="resources-heading">
      <h2 id="resources-heading">Resources</h2>
      {resources.isPending ? <Loading label="Loading resources…" /> : null}
      <ProblemAlert error={resources.error} />
      {resources.data?.length === 0 ? <p className="muted">This challenge has no files to download.</p> : null}
      {resources.data?.length ? (
        <div className="table-wrap" role="region" aria-labelledby="resources-heading" tabIndex={0}>
          <table>
            <caption className="visually-hidden">Files of this challenge</caption>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">Added</th>
              </tr>
            </thead>
            <tbody>
              {resources.data.map((resource) => (
                <tr key={resource.id}>
                  <td>
                    <a href={resource.download_url} download={resource.name} aria-label={`Download ${resource.name} (${formatBytes(resource.size)})`}>
                      {resource.name}
                    </a>
                  </td>
                  <td className="num">{formatBytes(resource.size)}</td>
                  <td>
                    <Time iso={resource.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function Participation({ challenge, me }: { challenge: Challenge; me: Me }) {
  const client = useQueryClient();
  const membership = useMembership(challenge.slug, true);
  const [joining, setJoining] = useState(false);
  const [joinError, setJoinError] = useState<unknown>(null);
  const status = challengeStatus(challenge);

  const join = async () => {
    setJoining(true);
    setJoinError(null);
    try {
      const joined = await joinChallenge(challenge.slug);
      client.setQueryData(challengeKeys.membership(challenge.slug), { joined_at: joined.joined_at });
    } catch (error) {
      setJoinError(error);
    } finally {
      setJoining(false);
    }
  };

  return (
    <section aria-labelledby="participate-heading">
      <h2 id="participate-heading">Take part</h2>
      {membership.isPending ? <Loading label="Checking whether you joined…" /> : null}
      <ProblemAlert error={membership.error ?? joinError} />
      {membership.data === null ? (
        <div className="row">
          <p>You have not joined this challenge yet. Joining lets you submit and puts your best score on the leaderboard.</p>
          <Button variant="primary" busy={joining} onClick={() => void join()} disabled={status === 'closed'}>
            Join challenge
          </Button>
        </div>
      ) : null}
      {membership.data ? (
        <>
          <p className="muted">
            You joined <Time iso={membership.data.joined_at} />.
          </p>
          {status === 'open' ? <SubmitForm challenge={challenge} /> : <p>This challenge does not take submissions now.</p>}
          <MySubmissions challenge={challenge} me={me} />
        </>
      ) : null}
    </section>
  );
}

function SubmitForm({ challenge }: { challenge: Challenge }) {
  const client = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const inputId = useId();
  const [files, setFiles] = useState<File[]>([]);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [accepted, setAccepted] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!files.length) {
      setError(new Error('Choose a file to submit.'));
      input.current?.focus();
      return;
    }
    setError(null);
    setAccepted(null);
    setProgress(0);
    try {
      const submission = await uploadSubmission(challenge.slug, files, setProgress);
      client.setQueryData<Submission[]>(challengeKeys.submissions(challenge.slug), (old) => [submission, ...(old ?? []).filter((s) => s.id !== submission.id)]);
      setAccepted(submission.id);
      setFiles([]);
      if (input.current) input.current.value = '';
    } catch (failure) {
      setError(failure);
    } finally {
      setProgress(null);
    }
  };

  const uploading = progress !== null;
  const limits = [challenge.limits.per_day ? `${challenge.limits.per_day} a day` : null, challenge.limits.concurrent ? `${challenge.limits.concurrent} evaluating at once` : null].filter(Boolean);
  return (
    <form className="card" onSubmit={(event) => void submit(event)} aria-labelledby="submit-heading" noValidate>
      <h3 id="submit-heading">Submit</h3>
      <div className="field">
        <label htmlFor={inputId}>Prediction files</label>
        <input
          ref={input}
          id={inputId}
          name="file"
          type="file"
          multiple
          aria-describedby={`${inputId}-hint`}
          onChange={(event) => setFiles([...(event.target.files ?? [])])}
          disabled={uploading}
        />
        <p className="hint" id={`${inputId}-hint`}>
          One or more files; the evaluators read the first.{limits.length ? ` At most ${limits.join(', ')}.` : ''}
        </p>
      </div>
      {uploading ? (
        <div className="field" role="status">
          <label htmlFor={`${inputId}-progress`}>Uploading: {Math.round((progress ?? 0) * 100)}%</label>
          <progress id={`${inputId}-progress`} max={1} value={progress ?? 0} />
        </div>
      ) : null}
      <ProblemAlert error={error} />
      {accepted ? <Notice>Submission received; its evaluation is shown below.</Notice> : null}
      <Button type="submit" variant="primary" busy={uploading}>
        Submit
      </Button>
    </form>
  );
}

function MySubmissions({ challenge, me }: { challenge: Challenge; me: Me }) {
  const submissions = useMySubmissions(challenge.slug, me.id);
  const mine = submissions.data?.filter((s) => s.user_id === me.id);
  return (
    <>
      <h3 id="my-submissions-heading">My submissions</h3>
      {submissions.isPending ? <Loading label="Loading your submissions…" /> : null}
      <ProblemAlert error={submissions.error} />
      {mine?.length === 0 ? <p className="muted">You have not submitted yet.</p> : null}
      {mine?.length ? (
        <ul className="submissions" aria-labelledby="my-submissions-heading">
          {mine.map((submission) => (
            <SubmissionItem key={submission.id} submission={submission} challenge={challenge} />
          ))}
        </ul>
      ) : null}
    </>
  );
}

/** Applies a `submission:{id}` event to the cached list: a whole submission, or one evaluation's news. */
function applySubmissionEvent(list: Submission[] | undefined, id: string, event: LiveEvent): Submission[] | undefined {
  if (!list) return list;
  const data = (event.data ?? {}) as { submission?: Submission; evaluation?: Evaluation };
  return list.map((item) => {
    if (item.id !== id) return item;
    if (data.submission) return { ...item, ...data.submission };
    const evaluation = data.evaluation;
    if (evaluation) {
      const evaluations = item.evaluations.some((e) => e.job_id === evaluation.job_id)
        ? item.evaluations.map((e) => (e.job_id === evaluation.job_id ? { ...e, ...evaluation } : e))
        : [...item.evaluations, evaluation];
      return { ...item, evaluations };
    }
    return item;
  });
}

function SubmissionItem({ submission, challenge }: { submission: Submission; challenge: Challenge }) {
  const client = useQueryClient();
  const evaluating = submission.state === 'evaluating';
  // From the topic's first event: whatever happened before this page subscribed is replayed.
  useLiveEvents(
    [`submission:${submission.id}`],
    (event) => {
      client.setQueryData<Submission[]>(challengeKeys.submissions(challenge.slug), (list) => applySubmissionEvent(list, submission.id, event));
      if (event.type === 'submission.scored' || event.type === 'submission.failed') {
        void client.invalidateQueries({ queryKey: challengeKeys.leaderboard(challenge.slug) });
      }
    },
    { enabled: evaluating, after: 0 },
  );
  const label = `Submission of ${new Date(submission.created_at).toLocaleString()}`;
  const primary = challenge.leaderboard.score;
  return (
    <li className="card submission" id={`submission-${submission.id}`} aria-label={label} data-state={submission.state}>
      <div className="row">
        <strong>
          <Time iso={submission.created_at} />
        </strong>
        <span className={`badge ${submission.state === 'scored' ? 'ok' : submission.state === 'failed' ? 'danger' : 'warn'}`}>
          {submission.state === 'scored' ? 'Scored' : submission.state === 'failed' ? 'Failed' : 'Evaluating'}
        </span>
        <span className="muted">
          {submission.files.length} {submission.files.length === 1 ? 'file' : 'files'}
        </span>
      </div>
      {evaluating
        ? submission.evaluations.map((evaluation) => (
            <div className="field" key={evaluation.job_id}>
              <label htmlFor={`progress-${evaluation.job_id}`}>
                {evaluation.kind}: {evaluation.state === 'pending' ? `${Math.round(evaluation.progress * 100)}%` : evaluation.state}
                {evaluation.progress_message ? ` — ${evaluation.progress_message}` : ''}
              </label>
              <progress id={`progress-${evaluation.job_id}`} max={1} value={evaluation.state === 'pending' ? evaluation.progress : 1} />
            </div>
          ))
        : null}
      {submission.state === 'scored' ? (
        <dl className="scores">
          {Object.entries(submission.scores)
            .sort(([a], [b]) => (a === primary ? -1 : b === primary ? 1 : a.localeCompare(b)))
            .map(([name, value]) => (
              <div key={name}>
                <dt>{name}</dt>
                <dd>{formatScore(value)}</dd>
              </div>
            ))}
        </dl>
      ) : null}
      {submission.state === 'failed' ? (
        <ul className="field-error">
          {submission.errors.map((error) => (
            <li key={error.kind + error.message}>
              {error.kind}: {error.message}
            </li>
          ))}
        </ul>
      ) : null}
    </li>
  );
}

function Leaderboard({ challenge, me }: { challenge: Challenge; me: Me | null }) {
  const client = useQueryClient();
  const board = useLeaderboard(challenge.slug);
  // Signed-in visitors follow the board live (the socket needs a session).
  useLiveEvents(
    [`challenge:${challenge.slug}`],
    (event) => {
      if (event.type === 'leaderboard.changed') void client.invalidateQueries({ queryKey: challengeKeys.leaderboard(challenge.slug) });
    },
    { enabled: me !== null },
  );
  const rows = board.data?.pages.flatMap((page) => page.items) ?? [];
  const primary = challenge.leaderboard.score;
  const others = [...new Set(rows.flatMap((row) => Object.keys(row.scores)))].filter((name) => name !== primary).sort();
  const perRank = new Map<number, number>();
  for (const row of rows) perRank.set(row.rank, (perRank.get(row.rank) ?? 0) + 1);
  const tied = (row: LeaderboardRow) => (perRank.get(row.rank) ?? 0) > 1;
  return (
    <section className="leaderboard" aria-labelledby="leaderboard-heading">
      <h2 id="leaderboard-heading">Leaderboard</h2>
      <p className="muted">
        Each participant&apos;s best submission by {primary}, {challenge.leaderboard.direction === 'desc' ? 'higher is better' : 'lower is better'}. Equal scores share a rank.
      </p>
      {board.isPending ? <Loading label="Loading the leaderboard…" /> : null}
      <ProblemAlert error={board.error} />
      {board.isSuccess && rows.length === 0 ? <p>No submission has been scored yet.</p> : null}
      {rows.length ? (
        <div className="table-wrap" role="region" aria-labelledby="leaderboard-heading" tabIndex={0}>
          <table aria-labelledby="leaderboard-heading">
            <thead>
              <tr>
                <th scope="col" className="num">
                  Rank
                </th>
                <th scope="col">Participant</th>
                <th scope="col" className="num">
                  {primary}
                </th>
                {others.map((name) => (
                  <th scope="col" className="num" key={name}>
                    {name}
                  </th>
                ))}
                <th scope="col">Submitted</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const mine = me !== null && row.user.id === me.id;
                return (
                  <tr key={row.submission_id} className={mine ? 'highlight' : undefined} aria-current={mine ? 'true' : undefined}>
                    <td className="num">
                      {row.rank}
                      {tied(row) ? <span className="muted"> (tie)</span> : null}
                    </td>
                    <th scope="row">
                      {row.user.name || 'Anonymous'}
                      {mine ? (
                        <>
                          {' '}
                          <span className="badge you">You</span>
                        </>
                      ) : null}
                    </th>
                    <td className="num">{formatScore(row.score)}</td>
                    {others.map((name) => (
                      <td className="num" key={name}>
                        {formatScore(row.scores[name])}
                      </td>
                    ))}
                    <td>
                      <Time iso={row.submitted_at} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      {board.hasNextPage ? (
        <Button busy={board.isFetchingNextPage} onClick={() => void board.fetchNextPage()}>
          Show more of the leaderboard
        </Button>
      ) : null}
    </section>
  );
}
