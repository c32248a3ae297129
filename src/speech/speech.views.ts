/**
 * The speech API's response shapes, declared once: the `SpeechQuestion`, `SpeechMetrics` and
 * `SpeechSession` components validate and document responses (OpenAPI), and the service's views
 * are derived from them with `Static<>`. A session refers to `SpeechMetrics` by `$ref` (so the
 * document keeps one named component) through {@link RefTo}, which keeps the reference typed.
 * Times are ISO-8601 UTC strings, durations seconds.
 */
import { type Static, Type } from '@sinclair/typebox';
import { RefTo } from '../http/schemas.js';
import { METRIC_NAMES } from './progress.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const NumberOrNull = Nullable(Type.Number());

/** `SpeechQuestion` component: a prompt to answer; `difficulty` 1–5, `expected_seconds` seconds. */
export const QuestionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    text: Type.String(),
    category: Nullable(Type.String()),
    difficulty: Nullable(Type.Integer({ minimum: 1, maximum: 5 })),
    expected_seconds: Nullable(Type.Integer({ minimum: 1, description: 'seconds' })),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'SpeechQuestion' },
);

/** The `SpeechMetrics` properties: each metric of {@link METRIC_NAMES}, a number or null. */
const metricProperties = Object.fromEntries(METRIC_NAMES.map((name) => [name, NumberOrNull])) as {
  [Name in (typeof METRIC_NAMES)[number]]: typeof NumberOrNull;
};

/** `SpeechMetrics` component: a report's numbers (units in its description). */
export const MetricsSchema = Type.Object(metricProperties, {
  $id: 'SpeechMetrics',
  description: 'Seconds (`_s`), syllables per second (`_syll_s`), dBFS RMS, dB, Hz; a ratio for pause_ratio. Null where nothing could be measured.',
});

/** A stretch of the recording, seconds from its start. */
export const IntervalSchema = Type.Object({ start_s: Type.Number(), end_s: Type.Number() });

/**
 * `SpeechSession` component: a session and, once done, its report. `score` 0–100 (docs/speech.md,
 * "Score") and `metrics` null until done; `error` says why the analysis failed; `contours` is
 * there when the analysis computed them; `transcript_note` says why no transcript was made (set
 * whenever `transcript` is absent from a done report).
 */
export const SessionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    owner_id: Type.String({ format: 'uuid' }),
    question_id: Nullable(Type.String({ format: 'uuid' })),
    state: Type.Union([Type.Literal('analysing'), Type.Literal('done'), Type.Literal('failed')]),
    job_id: Type.String({ format: 'uuid' }),
    format: Type.String(),
    duration_s: Type.Number(),
    audio_url: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    finished_at: Nullable(Type.String({ format: 'date-time' })),
    score: NumberOrNull,
    error: Nullable(Type.String()),
    metrics: Type.Union([RefTo(MetricsSchema), Type.Null()]),
    pauses: Type.Array(IntervalSchema),
    feedback: Type.Array(Type.String()),
    contours: Type.Optional(
      Type.Object(
        {
          step_s: Type.Number({ description: 'seconds between points, from 0' }),
          f0_hz: Type.Array(NumberOrNull, { description: 'median F0 of the voiced frames in each step; null where none is voiced' }),
          loudness_dbfs: Type.Array(NumberOrNull, { description: 'level of each step (dBFS RMS); null below the silence floor' }),
        },
        { description: 'Pitch and loudness over time, for plotting (at most 600 points)' },
      ),
    ),
    transcript: Type.Optional(Type.String()),
    words_per_minute: Type.Optional(Type.Number()),
    filler_words: Type.Optional(Type.Record(Type.String(), Type.Integer())),
    transcript_note: Type.Optional(Type.String()),
  },
  { $id: 'SpeechSession' },
);

/** A question as the API shows it. */
export type QuestionView = Static<typeof QuestionSchema>;

/** A session and, once done, its report (`GET /speech/sessions/{id}`). */
export type SessionView = Static<typeof SessionSchema>;
