/**
 * The speech module's built-in worker: the handler of `speech-analysis` jobs. It runs in a worker
 * thread of the server (or `gatehouse worker --builtin speech-analysis`, or any SDK worker that
 * loads this file), never in the server's own thread: it downloads the recording the job lists,
 * decodes it (WAV natively, anything else with ffmpeg), analyses it and returns the measurements.
 * Progress goes out in heartbeats at each stage (download, decode, voice activity, loudness,
 * pitch, syllable nuclei, transcript).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermanentError, type JobHandler } from '../worker/index.js';
import { analyseSpeech } from './analysis/analyse.js';
import { AudioProbeError, loadAudio } from './audio/probe.js';
import { transcribe } from './transcript.js';

/** The payload the server enqueues (SpeechService.createSession). */
interface AnalysisPayload {
  session_id: string;
  file_id: string;
  format: string;
  min_pause_ms: number;
  max_seconds: number;
}

function readPayload(value: unknown): AnalysisPayload {
  const p = value as Partial<AnalysisPayload> | null;
  if (!p || typeof p.file_id !== 'string' || typeof p.min_pause_ms !== 'number' || typeof p.max_seconds !== 'number') {
    throw new PermanentError('payload needs file_id, min_pause_ms and max_seconds');
  }
  return p as AnalysisPayload;
}

/**
 * Most pauses listed in a result (`pause_count` and the pause statistics still count every one),
 * and the longest transcript kept, in characters: a job's result must stay under
 * JOB_PAYLOAD_MAX_BYTES (64 KiB by default) even for a 10-minute recording.
 */
export const MAX_LISTED_PAUSES = 400;
export const MAX_TRANSCRIPT_CHARS = 16_000;

/** Lets timers (the SDK's heartbeats) run between CPU-bound stages. */
const yieldToTimers = () => new Promise<void>((resolve) => setImmediate(resolve));

/** `speech-analysis`: `{file_id, min_pause_ms, max_seconds}` → the AnalysisResult of speech.service.ts. */
const analyse: JobHandler = async (job, ctx) => {
  const payload = readPayload(job.payload);
  const ffmpeg = { path: process.env.SPEECH_FFMPEG || 'ffmpeg' };
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-speech-job-'));
  try {
    await ctx.progress(0.02, 'download');
    const path = join(dir, 'recording');
    await ctx.download(payload.file_id, path);
    await ctx.progress(0.05, 'decode');
    await yieldToTimers();
    let audio;
    try {
      audio = await loadAudio(path, ffmpeg, payload.max_seconds);
    } catch (error) {
      if (error instanceof AudioProbeError) throw new PermanentError(error.message);
      throw error;
    }
    const analysis = await analyseSpeech(audio.samples, audio.rate, { minPauseS: payload.min_pause_ms / 1000 }, async (fraction, stage) => {
      await ctx.progress(0.1 + 0.75 * fraction, stage);
      await yieldToTimers();
    });
    await ctx.progress(0.85, 'transcript');
    await yieldToTimers();
    const transcript = await transcribe(audio.samples, audio.rate, { speechS: analysis.metrics.speech_s, durationS: analysis.metrics.duration_s, signal: ctx.signal });
    await ctx.progress(1, 'done');
    if (transcript.transcript && transcript.transcript.length > MAX_TRANSCRIPT_CHARS) {
      transcript.transcript = transcript.transcript.slice(0, transcript.transcript.lastIndexOf(' ', MAX_TRANSCRIPT_CHARS));
    }
    return {
      metrics: analysis.metrics,
      pauses: analysis.pauses.slice(0, MAX_LISTED_PAUSES),
      syllable_count: analysis.syllables.length,
      threshold_dbfs: analysis.threshold_dbfs,
      decoder: audio.decoder,
      contours: analysis.contours,
      ...transcript,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

export default { 'speech-analysis': analyse };
