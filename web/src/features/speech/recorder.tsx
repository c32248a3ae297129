/**
 * Records an answer in the browser (MediaRecorder on the microphone), shows the elapsed time,
 * and lets the person listen to the take before sending it. The browser asks for the microphone
 * when Record is pressed, never before.
 */
import { useEffect, useRef, useState } from 'react';
import { Button } from '../../components/ui';

/** A finished take: the audio and a file name with the container's extension. */
export interface Take {
  blob: Blob;
  filename: string;
  seconds: number;
}

/** The best container this browser records (WebM/Opus in Chromium and Firefox, MP4 in Safari). */
function pickMimeType(): string {
  for (const type of ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4']) {
    if (typeof MediaRecorder !== 'undefined' && MediaRecorder.isTypeSupported(type)) return type;
  }
  return '';
}

const extensionOf = (type: string) => (type.includes('ogg') ? 'ogg' : type.includes('mp4') ? 'm4a' : 'webm');

/** Elapsed time as `m:ss`. */
export function clock(seconds: number): string {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/** The record / stop / listen control; `onTake` receives each finished take (null when discarded). */
export function Recorder({ onTake, disabled }: { onTake: (take: Take | null) => void; disabled?: boolean }) {
  const [state, setState] = useState<'idle' | 'recording' | 'recorded'>('idle');
  const [elapsed, setElapsed] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const recorder = useRef<MediaRecorder | null>(null);
  const startedAt = useRef(0);
  const supported = typeof navigator !== 'undefined' && !!navigator.mediaDevices?.getUserMedia && typeof MediaRecorder !== 'undefined';

  useEffect(() => {
    if (state !== 'recording') return;
    const timer = setInterval(() => setElapsed((performance.now() - startedAt.current) / 1000), 250);
    return () => clearInterval(timer);
  }, [state]);
  useEffect(() => () => {
    if (preview) URL.revokeObjectURL(preview);
  }, [preview]);
  useEffect(() => () => recorder.current?.stream.getTracks().forEach((track) => track.stop()), []);

  const start = async () => {
    setError(null);
    onTake(null);
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const mimeType = pickMimeType();
      const media = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
      const chunks: Blob[] = [];
      media.ondataavailable = (event) => {
        if (event.data.size) chunks.push(event.data);
      };
      media.onstop = () => {
        stream.getTracks().forEach((track) => track.stop());
        const type = media.mimeType || mimeType || 'audio/webm';
        const blob = new Blob(chunks, { type });
        const seconds = (performance.now() - startedAt.current) / 1000;
        setPreview(URL.createObjectURL(blob));
        setState('recorded');
        onTake({ blob, filename: `answer.${extensionOf(type)}`, seconds });
      };
      recorder.current = media;
      startedAt.current = performance.now();
      setElapsed(0);
      media.start(250);
      setState('recording');
    } catch (failure) {
      const name = (failure as Error).name;
      setError(
        name === 'NotAllowedError'
          ? 'The browser was not allowed to use the microphone. Allow it in the address bar, or upload a file instead.'
          : name === 'NotFoundError'
            ? 'No microphone was found. Connect one, or upload a file instead.'
            : `Recording could not start: ${(failure as Error).message}`,
      );
    }
  };
  const stop = () => recorder.current?.state === 'recording' && recorder.current.stop();

  if (!supported) return <p className="muted">This browser cannot record audio here: upload a file instead.</p>;
  return (
    <div className="recorder stack">
      <div className="row">
        {state === 'recording' ? (
          <Button variant="danger" onClick={stop}>
            Stop recording
          </Button>
        ) : (
          <Button variant="primary" onClick={start} disabled={disabled}>
            {state === 'recorded' ? 'Record again' : 'Record'}
          </Button>
        )}
        <span className="recorder-time" role="timer" aria-live="off" aria-label="Elapsed recording time">
          {state === 'recording' ? <span className="rec-dot" aria-hidden="true" /> : null}
          {clock(elapsed)}
        </span>
        {state === 'recording' ? <span role="status">Recording…</span> : null}
      </div>
      {preview && state === 'recorded' ? (
        <div>
          <p className="hint">Listen to your take before sending it:</p>
          <audio controls src={preview} aria-label="Your recording" />
        </div>
      ) : null}
      {error ? (
        <p className="field-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}
