/**
 * Optional transcript, words per minute and filler words, by CMU PocketSphinx (Debian packages
 * `pocketsphinx` and `pocketsphinx-en-us`: the `pocketsphinx_continuous` program and its US
 * English model). When it is not installed (or `SPEECH_TRANSCRIBE=off`), the report carries
 * `transcript_note` saying so and no transcript fields: nothing is guessed.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWav16 } from './audio/wav.js';

/** Filler words and phrases counted in a transcript (lower case; phrases match whole words in sequence). */
export const FILLER_WORDS = ['um', 'uh', 'er', 'ah', 'hmm', 'like', 'you know', 'i mean', 'basically', 'actually', 'literally'] as const;

/** What {@link transcribe} adds to a report. */
export interface TranscriptFields {
  transcript?: string;
  words_per_minute?: number;
  filler_words?: Record<string, number>;
  transcript_note?: string;
}

/**
 * Resamples to `target` Hz: a windowed-sinc low-pass (Hamming, cut-off at 0.45 of the lower rate)
 * when going down, then linear interpolation. Good enough for a recogniser's front end.
 */
export function resample(samples: Float32Array, rate: number, target: number): Float32Array {
  if (rate === target) return samples;
  let source = samples;
  if (target < rate) {
    const cutoff = (0.45 * target) / rate;
    const half = Math.ceil(8 / cutoff / 2);
    const taps = new Float64Array(2 * half + 1);
    let norm = 0;
    for (let k = -half; k <= half; k++) {
      const sinc = k === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * k) / (Math.PI * k);
      const w = sinc * (0.54 + 0.46 * Math.cos((Math.PI * k) / half));
      taps[k + half] = w;
      norm += w;
    }
    source = new Float32Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      let acc = 0;
      for (let k = Math.max(-half, -i); k <= Math.min(half, samples.length - 1 - i); k++) acc += (taps[k + half] ?? 0) * (samples[i + k] ?? 0);
      source[i] = acc / norm;
    }
  }
  const out = new Float32Array(Math.floor((samples.length * target) / rate));
  for (let j = 0; j < out.length; j++) {
    const x = (j * rate) / target;
    const i = Math.floor(x);
    const a = source[i] ?? 0;
    const b = source[i + 1] ?? a;
    out[j] = a + (b - a) * (x - i);
  }
  return out;
}

/** Counts {@link FILLER_WORDS} in a list of lower-case words; only fillers that occur are listed. */
export function countFillers(words: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const filler of FILLER_WORDS) {
    const parts = filler.split(' ');
    let n = 0;
    for (let i = 0; i + parts.length <= words.length; i++) if (parts.every((p, k) => words[i + k] === p)) n++;
    if (n) counts[filler] = n;
  }
  return counts;
}

/** Parses `pocketsphinx_continuous -time yes` output: the recognised words, in order (fillers like `<sil>` and `[NOISE]` dropped, `word(2)` variants folded). */
export function parsePocketsphinxWords(output: string): string[] {
  const words: string[] = [];
  for (const line of output.split('\n')) {
    const match = /^(\S+) \d+\.\d+ \d+\.\d+ [\d.]+$/.exec(line.trim());
    if (!match) continue;
    const word = match[1]!.replace(/\(\d+\)$/, '').toLowerCase();
    if (word.startsWith('<') || word.startsWith('[') || word.startsWith('++')) continue;
    words.push(word);
  }
  return words;
}

/**
 * Transcribes with `pocketsphinx_continuous` (`SPEECH_POCKETSPHINX`, default on the PATH) when it
 * is installed and `SPEECH_TRANSCRIBE` is not `off`. `words_per_minute` = words / duration × 60.
 * @returns the transcript fields, or `{transcript_note}` saying why there is none.
 */
export async function transcribe(samples: Float32Array, rate: number, context: { speechS: number; durationS: number; signal?: AbortSignal }): Promise<TranscriptFields> {
  if ((process.env.SPEECH_TRANSCRIBE ?? 'auto') === 'off') return { transcript_note: 'No transcript was made: transcription is turned off (SPEECH_TRANSCRIBE=off).' };
  if (context.speechS <= 0) return { transcript_note: 'No transcript was made: no speech was detected.' };
  const program = process.env.SPEECH_POCKETSPHINX || 'pocketsphinx_continuous';
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-speech-asr-'));
  try {
    const file = join(dir, 'speech16k.wav');
    await writeFile(file, encodeWav16(resample(samples, rate, 16_000), 16_000));
    const output = await new Promise<string | null>((resolve, reject) => {
      const child = spawn(program, ['-infile', file, '-time', 'yes', '-logfn', '/dev/null'], { stdio: ['ignore', 'pipe', 'ignore'], signal: context.signal });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      child.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? resolve(null) : reject(error)));
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`${program} exited with ${code}`))));
    });
    if (output === null) {
      return { transcript_note: 'No transcript was made: pocketsphinx is not installed on the worker (Debian: apt-get install pocketsphinx pocketsphinx-en-us).' };
    }
    const words = parsePocketsphinxWords(output);
    return {
      transcript: words.join(' '),
      words_per_minute: context.durationS > 0 ? Number(((words.length * 60) / context.durationS).toFixed(1)) : 0,
      filler_words: countFillers(words),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
