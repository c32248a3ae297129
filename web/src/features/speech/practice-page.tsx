/**
 * `/practice`: pick a question, record an answer (or upload a file), send it, and go to its
 * report, which follows the analysis live. Below: the person's past sessions.
 */
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useId, useState } from 'react';
import { api, type Page as ApiPage } from '../../api/client';
import { useMeta } from '../../api/session';
import { Button, formatBytes, Loading, Page, ProblemAlert } from '../../components/ui';
import { clock, Recorder, type Take } from './recorder';
import { SessionList } from './session-list';
import type { Question } from './types';
import { uploadAnswer } from './upload';

export function PracticePage() {
  const navigate = useNavigate();
  const meta = useMeta();
  const questions = useQuery({ queryKey: ['speech', 'questions'], queryFn: () => api<ApiPage<Question>>('/speech/questions', { query: { limit: 100 } }) });
  const [questionId, setQuestionId] = useState<string | null>(null);
  const [take, setTake] = useState<Take | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [sending, setSending] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const fileId = useId();
  const maxBytes = meta.data?.limits.file_max_bytes;

  const send = async (audio: Blob, filename: string) => {
    setError(null);
    setSending(0);
    try {
      const session = await uploadAnswer(audio, filename, questionId, setSending);
      await navigate({ to: '/practice/sessions/$id', params: { id: session.id } });
    } catch (failure) {
      setError(failure);
      setSending(null);
    }
  };

  const chosen = questions.data?.items.find((q) => q.id === questionId) ?? null;
  return (
    <Page title="Practice speaking">
      <p className="lead">Answer a question out loud. You get a report on your pace, pauses, loudness and pitch within seconds.</p>
      <p>
        <Link to="/practice/progress">Your progress month by month</Link>
      </p>

      <section aria-labelledby="question-heading">
        <h2 id="question-heading">1. Pick a question</h2>
        {questions.isPending ? <Loading label="Loading questions…" /> : null}
        <ProblemAlert error={questions.error} />
        {questions.data ? (
          <fieldset className="plain-fieldset">
            <legend className="visually-hidden">Question</legend>
            <ul className="question-list">
              <li>
                <label>
                  <input type="radio" name="question" checked={questionId === null} onChange={() => setQuestionId(null)} />
                  <span>
                    <strong>Free practice</strong>
                    <br />
                    <span className="muted">Talk about anything, without a question.</span>
                  </span>
                </label>
              </li>
              {questions.data.items.map((question) => (
                <li key={question.id}>
                  <label>
                    <input type="radio" name="question" checked={questionId === question.id} onChange={() => setQuestionId(question.id)} />
                    <span>
                      {question.text}
                      <br />
                      <span className="muted">
                        {[question.category, question.difficulty ? `difficulty ${question.difficulty}/5` : null, question.expected_seconds ? `about ${clock(question.expected_seconds)}` : null]
                          .filter(Boolean)
                          .join(' · ')}
                      </span>
                    </span>
                  </label>
                </li>
              ))}
            </ul>
          </fieldset>
        ) : null}
      </section>

      <section aria-labelledby="record-heading">
        <h2 id="record-heading">2. Record your answer</h2>
        {chosen ? <p className="card">{chosen.text}</p> : null}
        <Recorder onTake={setTake} disabled={sending !== null} />
        {take ? (
          <p>
            <Button variant="primary" busy={sending !== null} onClick={() => send(take.blob, take.filename)}>
              Send the recording for analysis
            </Button>
          </p>
        ) : null}
      </section>

      <section aria-labelledby="upload-heading">
        <h2 id="upload-heading">…or upload a file</h2>
        <div className="field">
          <label htmlFor={fileId}>Audio file</label>
          <input id={fileId} type="file" accept="audio/*,.wav,.mp3,.ogg,.opus,.webm,.flac,.m4a" aria-describedby={`${fileId}-hint`} onChange={(event) => setFile(event.target.files?.[0] ?? null)} />
          <p className="hint" id={`${fileId}-hint`}>
            WAV, MP3, Ogg/Opus, WebM, FLAC or M4A{maxBytes ? `, up to ${formatBytes(maxBytes)}` : ''}.
          </p>
        </div>
        <Button variant="primary" disabled={!file} busy={sending !== null} onClick={() => file && send(file, file.name)}>
          Upload and analyse
        </Button>
      </section>

      {sending !== null ? (
        <div className="stack" role="status">
          <label htmlFor="upload-progress">Sending…</label>
          <progress id="upload-progress" max={1} value={sending} />
        </div>
      ) : null}
      <ProblemAlert error={error} />

      <section aria-labelledby="past-heading">
        <h2 id="past-heading">Your sessions</h2>
        <SessionList questions={questions.data?.items ?? []} />
      </section>
    </Page>
  );
}
