/** `/practice/progress`: the average score and a few metrics month by month, with highlights. */
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { lazy, Suspense, useMemo } from 'react';
import { api } from '../../api/client';
import { Loading, Page, ProblemAlert } from '../../components/ui';
import type { Progress } from './types';

const LineChart = lazy(() => import('../../components/chart').then((m) => ({ default: m.LineChart })));

/** `2026-03` as `Mar 2026` in the reader's locale. */
function monthName(month: string): string {
  const [year, m] = month.split('-').map(Number);
  return new Date(Date.UTC(year!, (m ?? 1) - 1, 1)).toLocaleDateString(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' });
}

export function ProgressPage() {
  const progress = useQuery({ queryKey: ['speech', 'progress'], queryFn: () => api<Progress>('/speech/progress', { query: { months: 12 } }) });
  const months = useMemo(() => progress.data?.months ?? [], [progress.data]);
  const x = useMemo(() => months.map((m) => Date.UTC(Number(m.month.slice(0, 4)), Number(m.month.slice(5, 7)) - 1, 1) / 1000), [months]);
  const scoreSeries = useMemo(() => [{ label: 'Average score', values: months.map((m) => m.score), format: (v: number) => v.toFixed(1) }], [months]);
  const rateSeries = useMemo(
    () => [
      { label: 'Speech rate (syll/s)', values: months.map((m) => m.averages?.speech_rate_syll_s ?? null), format: (v: number) => v.toFixed(2) },
      { label: 'Share of pauses (%)', values: months.map((m) => (m.averages?.pause_ratio == null ? null : m.averages.pause_ratio * 100)), color: '--warn', format: (v: number) => `${v.toFixed(0)} %` },
    ],
    [months],
  );
  const formatX = (v: number) => monthName(new Date(v * 1000).toISOString().slice(0, 7));
  return (
    <Page title="Your progress">
      <p>
        <Link to="/practice">Back to practice</Link>
      </p>
      {progress.isPending ? <Loading /> : null}
      <ProblemAlert error={progress.error} />
      {progress.data ? (
        <>
          {progress.data.session_count ? (
            <p className="lead">{`${progress.data.session_count} analysed session${progress.data.session_count === 1 ? '' : 's'} from ${monthName(progress.data.from_month)} to ${monthName(progress.data.to_month)}.`}</p>
          ) : null}
          {progress.data.highlights.length ? (
            <ul className="feedback">
              {progress.data.highlights.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          ) : null}
          {progress.data.best_session ? (
            <p>
              Your best session scored {Math.round(progress.data.best_session.score)}:{' '}
              <Link to="/practice/sessions/$id" params={{ id: progress.data.best_session.id }}>
                listen to it again
              </Link>
              .
            </p>
          ) : null}
          <Suspense fallback={<Loading label="Loading charts…" />}>
            <LineChart
              title="Average score by month"
              summary={summaryOf(progress.data)}
              x={x}
              time
              points
              xLabel="Month"
              series={scoreSeries}
              formatX={formatX}
            />
            <LineChart title="Pace and pauses by month" summary="Average speech rate and share of time spent pausing, per month." x={x} time points xLabel="Month" series={rateSeries} formatX={formatX} />
          </Suspense>
          <h2>Sessions per month</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Month</th>
                  <th scope="col" className="num">
                    Sessions
                  </th>
                  <th scope="col" className="num">
                    Average score
                  </th>
                </tr>
              </thead>
              <tbody>
                {months.map((m) => (
                  <tr key={m.month}>
                    <td>{monthName(m.month)}</td>
                    <td className="num">{m.session_count}</td>
                    <td className="num">{m.score === null ? '—' : m.score.toFixed(1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </Page>
  );
}

function summaryOf(progress: Progress): string {
  const scored = progress.months.filter((m) => m.score !== null);
  if (!scored.length) return 'No month has a score yet.';
  const last = scored.at(-1)!;
  const change = progress.biggest_improvement;
  return `Latest: ${last.score!.toFixed(1)} in ${monthName(last.month)}${change ? `; biggest rise ${change.score_change > 0 ? '+' : ''}${change.score_change.toFixed(1)} from ${monthName(change.from_month)} to ${monthName(change.to_month)}` : ''}.`;
}
