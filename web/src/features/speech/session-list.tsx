/** The person's past sessions, newest first, with cursor paging ("Show more"). */
import { useInfiniteQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { api, type Page as ApiPage } from '../../api/client';
import { Button, Loading, ProblemAlert, Time } from '../../components/ui';
import { clock } from './recorder';
import type { Question, Session } from './types';

const STATE_LABEL: Record<Session['state'], string> = { analysing: 'Analysing', done: 'Done', failed: 'Failed' };

export function SessionList({ questions }: { questions: Question[] }) {
  const sessions = useInfiniteQuery({
    queryKey: ['speech', 'sessions'],
    queryFn: ({ pageParam }) => api<ApiPage<Session>>('/speech/sessions', { query: { limit: 20, cursor: pageParam } }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  if (sessions.isPending) return <Loading label="Loading your sessions…" />;
  if (sessions.error) return <ProblemAlert error={sessions.error} />;
  const items = sessions.data.pages.flatMap((page) => page.items);
  if (!items.length) return <p className="muted">No sessions yet: your first answer will show up here.</p>;
  const questionText = (id: string | null) => (id ? (questions.find((q) => q.id === id)?.text ?? 'A question') : 'Free practice');
  return (
    <>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Your sessions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Question</th>
              <th scope="col" className="num">
                Length
              </th>
              <th scope="col">State</th>
              <th scope="col" className="num">
                Score
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((session) => (
              <tr key={session.id}>
                <td>
                  <Link to="/practice/sessions/$id" params={{ id: session.id }}>
                    <Time iso={session.created_at} />
                  </Link>
                </td>
                <td>{questionText(session.question_id)}</td>
                <td className="num">{clock(session.duration_s)}</td>
                <td>
                  <span className={`badge ${session.state === 'done' ? 'ok' : session.state === 'failed' ? 'danger' : 'warn'}`}>{STATE_LABEL[session.state]}</span>
                </td>
                <td className="num">{session.score === null ? '—' : Math.round(session.score)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {sessions.hasNextPage ? (
        <Button busy={sessions.isFetchingNextPage} onClick={() => sessions.fetchNextPage()}>
          Show more sessions
        </Button>
      ) : null}
    </>
  );
}
