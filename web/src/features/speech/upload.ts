/**
 * Uploads an answer (`POST /api/v1/speech/sessions`, multipart: `question_id` first, then the
 * `audio` part) with upload progress, which `fetch` cannot report. Resolves the new session.
 */
import { ApiError, type Problem } from '../../api/client';
import type { Session } from './types';

/**
 * @param onProgress fraction sent, 0..1.
 * @throws ApiError with the server's problem document (415 not audio, 422 too long, 413 …).
 */
export function uploadAnswer(audio: Blob, filename: string, questionId: string | null, onProgress: (fraction: number) => void): Promise<Session> {
  const form = new FormData();
  if (questionId) form.append('question_id', questionId);
  form.append('audio', audio, filename);
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', '/api/v1/speech/sessions');
    request.setRequestHeader('accept', 'application/json, application/problem+json');
    request.responseType = 'text';
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        body = undefined;
      }
      if (request.status === 202 || request.status === 201) {
        resolve(body as Session);
        return;
      }
      const problem = (body && typeof body === 'object' ? body : {}) as Partial<Problem>;
      reject(new ApiError({ ...problem, status: request.status, code: problem.code ?? `http_${request.status}`, detail: problem.detail ?? `The upload failed (${request.status}).` }));
    };
    request.onerror = () => reject(new ApiError({ status: 0, code: 'network_error', detail: 'The upload was interrupted. Check your connection and try again.' }));
    request.send(form);
  });
}
