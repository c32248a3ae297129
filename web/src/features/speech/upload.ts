/** Uploads an answer (`POST /api/v1/speech/sessions`) with upload progress. */
import { uploadWithProgress } from '../../api/client';
import type { Session } from './types';

/**
 * Sends `audio` as multipart: `question_id` first (the server reads it before the audio), then
 * the `audio` part. Resolves the new session (`202`, state `analysing`).
 * @param onProgress fraction sent, 0..1.
 * @throws ApiError with the server's problem document (415 not audio, 422 too long, 413 …).
 */
export function uploadAnswer(audio: Blob, filename: string, questionId: string | null, onProgress: (fraction: number) => void): Promise<Session> {
  const form = new FormData();
  if (questionId) form.append('question_id', questionId);
  form.append('audio', audio, filename);
  return uploadWithProgress<Session>('/speech/sessions', form, onProgress);
}
