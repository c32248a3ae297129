/**
 * `/practice/sessions/$id`: one answer. While it is analysed, the progress comes live (the job's
 * `progress` events); the report appears when `speech-session.done` arrives: the score, feedback
 * in plain language, every metric, a pause timeline, pitch and loudness over time, the transcript.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate, useParams } from '@tanstack/react-router';
import { lazy, Suspense, useMemo, useState } from 'react';
import { api } from '../../api/client';
import { useLiveEvents } from '../../api/live';
import { Button, ConfirmDialog, Loading, Page, ProblemAlert, Time } from '../../components/ui';
import { clock } from './recorder';
import { formatMetric, METRIC_LABELS, type Session } from './types';

const LineChart = lazy(() => import('../../components/chart').then((m) => ({ default: m.LineChart })));

export function SessionPage() {
  const { id } = useParams({ strict: false }) as { id: string };
  const client = useQueryClient();
  const navigate = useNavigate();
  const key = ['speech', 'session', id];
  const session = useQuery({
    queryKey: key,
    queryFn: () => api<Session>(`/speech/sessions/${id}`),
    // The live events drive the page; this poll only covers an event missed before the socket subscribed.
    refetchInterval: (query) => (query.state.data?.state === 'analysing' ? 5_000 : false),
  });
  const [progress, setProgress] = useState<{ fraction: number; message: string | null } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const analysing = session.data?.state === 'analysing';
  const topics = session.data ? [`job:${session.data.job_id}`, `speech-session:${id}`] : [];
  const live = useLiveEvents(
    topics,
    (event) => {
      if (event.type === 'progress') {
        const data = event.data as { progress?: number; message?: string | null } | undefined;
        if (typeof data?.progress === 'number') setProgress({ fraction: data.progress, message: data.message ?? null });
      }
      if (event.type === 'speech-session.done' || event.type === 'speech-session.failed') {
        void client.invalidateQueries({ queryKey: key });
        void client.invalidateQueries({ queryKey: ['speech', 'sessions'] });
        void client.invalidateQueries({ queryKey: ['speech', 'progress'] });
      }
    },
    // Replay the topics from their start: an analysis that finished before the socket subscribed
    // still delivers its `speech-session.done`.
    { enabled: analysing, after: 0 },
  );

  if (session.isPending) return <Loading />;
  if (session.error) {
    return (
      <Page title="Session">
        <ProblemAlert error={session.error} />
      </Page>
    );
  }
  const data = session.data;
  const remove = async () => {
    setDeleting(true);
    try {
      await api(`/speech/sessions/${id}`, { method: 'DELETE' });
      await client.invalidateQueries({ queryKey: ['speech'] });
      await navigate({ to: '/practice' });
    } catch (failure) {
      setDeleteError(failure);
      setDeleting(false);
      setConfirmDelete(false);
    }
  };
  return (
    <Page
      title="Your answer"
      actions={
        <Button variant="danger" onClick={() => setConfirmDelete(true)}>
          Delete this session
        </Button>
      }
    >
      <p className="muted">
        Recorded <Time iso={data.created_at} />, {clock(data.duration_s)} long.
      </p>
      <audio controls src={data.audio_url} aria-label="Your recording" preload="metadata" />
      <ProblemAlert error={deleteError} />
      {data.state === 'analysing' ? (
        <section className="card stack" aria-labelledby="analysis-heading">
          <h2 id="analysis-heading">Analysing your answer…</h2>
          <label htmlFor="analysis-progress">{progress?.message ? `Step: ${progress.message}` : 'Waiting for the analysis to start'}</label>
          <progress id="analysis-progress" max={1} value={progress?.fraction ?? undefined} />
          <p className="muted" role="status">
            {progress ? `${Math.round(progress.fraction * 100)} % done` : live === 'live' ? 'Connected: the report appears here as soon as it is ready.' : 'Connecting…'}
          </p>
        </section>
      ) : null}
      {data.state === 'failed' ? (
        <div className="alert alert-error" role="alert">
          <p>The analysis failed: {data.error ?? 'no reason was given'}.</p>
        </div>
      ) : null}
      {data.state === 'done' ? <Report session={data} /> : null}
      <ConfirmDialog
        open={confirmDelete}
        title="Delete this session?"
        confirmLabel="Delete"
        danger
        busy={deleting}
        onConfirm={remove}
        onCancel={() => setConfirmDelete(false)}
      >
        <p>The recording and its report are deleted for good.</p>
      </ConfirmDialog>
    </Page>
  );
}

function Report({ session }: { session: Session }) {
  const metrics = session.metrics ?? {};
  const contourX = useMemo(() => (session.contours ? session.contours.f0_hz.map((_, i) => Number((i * session.contours!.step_s).toFixed(3))) : []), [session.contours]);
  const pitchSeries = useMemo(() => (session.contours ? [{ label: 'Pitch (Hz)', values: session.contours.f0_hz, format: (v: number) => `${Math.round(v)} Hz` }] : []), [session.contours]);
  const loudnessSeries = useMemo(
    () => (session.contours ? [{ label: 'Loudness (dBFS)', values: session.contours.loudness_dbfs, color: '--ok', format: (v: number) => `${v.toFixed(1)} dBFS` }] : []),
    [session.contours],
  );
  const duration = metrics.duration_s ?? session.duration_s;
  return (
    <>
      <section aria-labelledby="score-heading" className="card">
        <h2 id="score-heading">Score</h2>
        <p>
          <span className="score">{session.score === null ? '—' : Math.round(session.score)}</span> <span className="muted">out of 100</span>
        </p>
        <h3>What to work on</h3>
        <ul className="feedback">
          {session.feedback.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      </section>

      <section aria-labelledby="metrics-heading">
        <h2 id="metrics-heading">Measurements</h2>
        <dl className="metrics">
          {Object.keys(METRIC_LABELS).map((name) => (
            <div key={name} title={METRIC_LABELS[name]!.help}>
              <dt>{METRIC_LABELS[name]!.label}</dt>
              <dd>{formatMetric(name, metrics[name])}</dd>
            </div>
          ))}
          {session.words_per_minute !== undefined ? (
            <div>
              <dt>Words per minute</dt>
              <dd>{Math.round(session.words_per_minute)}</dd>
            </div>
          ) : null}
        </dl>
      </section>

      <section aria-labelledby="pauses-heading">
        <h2 id="pauses-heading">Pauses</h2>
        <PauseTimeline pauses={session.pauses} duration={duration} />
      </section>

      {session.contours ? (
        <section aria-labelledby="voice-heading">
          <h2 id="voice-heading">Pitch and loudness over time</h2>
          <Suspense fallback={<Loading label="Loading charts…" />}>
            <LineChart
              title="Pitch"
              summary={`Your typical pitch was ${formatMetric('f0_median_hz', metrics.f0_median_hz)}, between ${formatMetric('f0_p10_hz', metrics.f0_p10_hz)} and ${formatMetric('f0_p90_hz', metrics.f0_p90_hz)}; gaps are silences or unvoiced sounds.`}
              x={contourX}
              xLabel="Time (s)"
              series={pitchSeries}
              formatX={(v) => `${v.toFixed(2)} s`}
            />
            <LineChart
              title="Loudness"
              summary={`Your average level was ${formatMetric('loudness_dbfs', metrics.loudness_dbfs)}, varying by ${formatMetric('loudness_sd_db', metrics.loudness_sd_db)}.`}
              x={contourX}
              xLabel="Time (s)"
              series={loudnessSeries}
              formatX={(v) => `${v.toFixed(2)} s`}
            />
          </Suspense>
        </section>
      ) : null}

      <section aria-labelledby="transcript-heading">
        <h2 id="transcript-heading">Transcript</h2>
        {session.transcript ? <blockquote className="card">{session.transcript}</blockquote> : <p className="muted">{session.transcript_note ?? 'No transcript was made.'}</p>}
        {session.filler_words && Object.keys(session.filler_words).length ? (
          <p>
            Filler words:{' '}
            {Object.entries(session.filler_words)
              .map(([word, count]) => `“${word}” × ${count}`)
              .join(', ')}
          </p>
        ) : null}
      </section>
    </>
  );
}

/** The answer as a bar with its pauses cut out, and the same in words. */
function PauseTimeline({ pauses, duration }: { pauses: Session['pauses']; duration: number }) {
  if (!pauses.length) return <p>No pauses longer than a quarter of a second: you spoke in one flow.</p>;
  const describe = pauses.map((p) => `${(p.end_s - p.start_s).toFixed(1)} s at ${clock(p.start_s)}`).join(', ');
  return (
    <>
      <div className="timeline" role="img" aria-label={`Timeline of ${clock(duration)}: ${pauses.length} pause${pauses.length === 1 ? '' : 's'}: ${describe}.`}>
        {pauses.map((pause) => (
          <span
            key={pause.start_s}
            className="pause"
            style={{ left: `${(pause.start_s / duration) * 100}%`, width: `${Math.max(0.4, ((pause.end_s - pause.start_s) / duration) * 100)}%` }}
          />
        ))}
      </div>
      <p className="hint">
        Shaded: speaking; gaps: pauses. {pauses.length} pause{pauses.length === 1 ? '' : 's'}: {describe}.
      </p>
    </>
  );
}
