/** `/challenges`: the challenges this visitor may see, with their state and closing time. */
import { Link } from '@tanstack/react-router';
import { Button, Loading, Page, ProblemAlert, Time } from '../../components/ui';
import { challengeStatus, useChallengeList } from './api';
import { StatusBadge } from './parts';
import './challenges.css';

/** The list page. */
export function ChallengeListPage() {
  const list = useChallengeList();
  const challenges = list.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <Page title="Challenges">
      {list.isPending ? <Loading label="Loading challenges…" /> : null}
      <ProblemAlert error={list.error} />
      {list.isSuccess && challenges.length === 0 ? <p>There are no open challenges yet.</p> : null}
      {challenges.length ? (
        <ul className="challenge-list">
          {challenges.map((challenge) => (
            <li key={challenge.id} className="card">
              <h2>
                <Link to="/challenges/$slug" params={{ slug: challenge.slug }}>
                  {challenge.title}
                </Link>
              </h2>
              <p className="row muted">
                <StatusBadge status={challengeStatus(challenge)} />
                {challenge.closes_at ? (
                  <span>
                    Closes <Time iso={challenge.closes_at} />
                  </span>
                ) : null}
                <span>
                  Ranked by {challenge.leaderboard.score} ({challenge.leaderboard.direction === 'desc' ? 'higher is better' : 'lower is better'})
                </span>
              </p>
              {challenge.description ? <p className="challenge-summary">{summary(challenge.description)}</p> : null}
            </li>
          ))}
        </ul>
      ) : null}
      {list.hasNextPage ? (
        <Button busy={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
          Show more challenges
        </Button>
      ) : null}
    </Page>
  );
}

/** The description's first paragraph as plain text (Markdown marks dropped), at most 240 characters. */
function summary(markdown: string): string {
  const first = markdown.split(/\n\s*\n/).find((block) => block.trim() && !/^\s*#/.test(block)) ?? '';
  const text = first
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_`>#]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 240 ? `${text.slice(0, 239)}…` : text;
}
