/**
 * What an uploaded recording is, how long it lasts, and its samples: WAV natively
 * ({@link decodeWav}), every other format through `ffmpeg` (Ogg/Opus, WebM from a browser's
 * MediaRecorder, MP3, FLAC, M4A, and WAV encodings the native reader does not take).
 */
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { decodeWav, looksLikeWav, parseWavHeader, WavFormatError } from './wav.js';

/** Container formats recognised by their signature. */
export type AudioFormat = 'wav' | 'ogg' | 'webm' | 'mp3' | 'flac' | 'm4a';

/** Sample rate of audio decoded by ffmpeg, Hz. */
export const FFMPEG_RATE = 16_000;

/** Why a recording cannot be taken. */
export class AudioProbeError extends Error {
  constructor(
    /** `not_audio`: no known signature (or ffmpeg could not decode it); `needs_ffmpeg`: a known format that only ffmpeg decodes, and it is missing; `too_long`; `empty`: no samples. */
    readonly reason: 'not_audio' | 'needs_ffmpeg' | 'too_long' | 'empty',
    message: string,
    readonly format: AudioFormat | null = null,
  ) {
    super(message);
    this.name = 'AudioProbeError';
  }
}

/** The format of a file from its first bytes (at least 12), or null when it is none of {@link AudioFormat}. */
export function sniffAudioFormat(head: Uint8Array): AudioFormat | null {
  const text = (offset: number, length: number) => String.fromCharCode(...head.subarray(offset, offset + length));
  if (looksLikeWav(head)) return 'wav';
  if (text(0, 4) === 'OggS') return 'ogg';
  if (text(0, 4) === 'fLaC') return 'flac';
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'webm';
  if (text(4, 4) === 'ftyp') return 'm4a';
  if (text(0, 3) === 'ID3') return 'mp3';
  // An MPEG audio frame header: 11 sync bits, a layer other than "reserved".
  if (head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0 && ((head[1] ?? 0) & 0x06) !== 0) return 'mp3';
  return null;
}

/** How to run ffmpeg. */
export interface FfmpegOptions {
  /** The ffmpeg executable (`SPEECH_FFMPEG`, default `ffmpeg` on the PATH). */
  path: string;
}

const availability = new Map<string, Promise<boolean>>();

/** True when `path -version` runs (cached per path for the process). */
export function ffmpegAvailable(path: string): Promise<boolean> {
  let known = availability.get(path);
  if (!known) {
    known = new Promise<boolean>((resolve) => {
      const child = spawn(path, ['-hide_banner', '-version'], { stdio: 'ignore' });
      child.on('error', () => resolve(false));
      child.on('close', (code) => resolve(code === 0));
    });
    availability.set(path, known);
  }
  return known;
}

/**
 * Decodes `filePath` with ffmpeg to mono float samples at {@link FFMPEG_RATE} Hz.
 * @param maxSeconds stop (and throw `too_long`) once more than this much audio has come out
 * @throws AudioProbeError `not_audio` when ffmpeg cannot decode it, `too_long`.
 */
export async function decodeWithFfmpeg(filePath: string, ffmpeg: FfmpegOptions, maxSeconds: number): Promise<Float32Array> {
  const args = ['-hide_banner', '-nostdin', '-v', 'error', '-i', filePath, '-vn', '-ac', '1', '-ar', String(FFMPEG_RATE), '-f', 'f32le', 'pipe:1'];
  const limitBytes = Math.ceil(maxSeconds * FFMPEG_RATE) * 4 + 4;
  return new Promise<Float32Array>((resolve, reject) => {
    const child = spawn(ffmpeg.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = '';
    let tooLong = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (tooLong) return;
      bytes += chunk.length;
      if (bytes > limitBytes) {
        tooLong = true;
        child.kill('SIGKILL');
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) => reject(new AudioProbeError('needs_ffmpeg', `ffmpeg could not be started (${error.message}).`)));
    child.on('close', (code) => {
      if (tooLong) return reject(new AudioProbeError('too_long', `The recording is longer than ${maxSeconds} s.`));
      if (code !== 0) return reject(new AudioProbeError('not_audio', `ffmpeg could not decode the file: ${stderr.trim().split('\n').at(-1) ?? `exit ${code}`}`));
      const all = Buffer.concat(chunks);
      const samples = new Float32Array(Math.floor(all.length / 4));
      for (let i = 0; i < samples.length; i++) samples[i] = all.readFloatLE(i * 4);
      resolve(samples);
    });
  });
}

/** A recording's format and duration. */
export interface ProbedAudio {
  format: AudioFormat;
  /** Seconds. */
  durationS: number;
}

/**
 * Finds the format and duration of the file at `filePath` (read from its header for WAV; by
 * decoding with ffmpeg otherwise).
 * @throws AudioProbeError `not_audio`, `needs_ffmpeg`, `too_long` (over `maxSeconds`), `empty` (under 0.1 s of samples).
 */
export async function probeAudio(filePath: string, ffmpeg: FfmpegOptions, maxSeconds: number): Promise<ProbedAudio> {
  const handle = await open(filePath, 'r');
  let head: Buffer;
  let size: number;
  try {
    size = (await handle.stat()).size;
    head = Buffer.alloc(Math.min(size, 65_536));
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  const format = sniffAudioFormat(head);
  if (!format) throw new AudioProbeError('not_audio', 'The file is not audio: send WAV, Ogg/Opus, WebM, MP3, FLAC or M4A.');
  let durationS: number | null = null;
  if (format === 'wav') {
    try {
      durationS = parseWavHeader(head, size).durationS;
    } catch (error) {
      if (!(error instanceof WavFormatError) || error.reason === 'not_wav') throw error;
      // An encoding the native reader does not take (ADPCM, 96 kHz…): ffmpeg may still read it.
      if (!(await ffmpegAvailable(ffmpeg.path))) throw new AudioProbeError('needs_ffmpeg', `${error.message} Install ffmpeg (Debian: apt-get install ffmpeg) to decode it.`, format);
    }
  }
  if (durationS === null) {
    if (!(await ffmpegAvailable(ffmpeg.path))) {
      throw new AudioProbeError('needs_ffmpeg', `Decoding ${format.toUpperCase()} needs ffmpeg, which is not installed on this server (Debian: apt-get install ffmpeg); WAV is read without it.`, format);
    }
    durationS = (await decodeWithFfmpeg(filePath, ffmpeg, maxSeconds)).length / FFMPEG_RATE;
  }
  if (durationS > maxSeconds) throw new AudioProbeError('too_long', `The recording lasts ${durationS.toFixed(1)} s; at most ${maxSeconds} s (SPEECH_MAX_SECONDS) are analysed.`, format);
  if (durationS < 0.1) throw new AudioProbeError('empty', `The recording holds ${durationS.toFixed(3)} s of audio; at least 0.1 s is needed.`, format);
  return { format, durationS };
}

/**
 * Reads the whole recording at `filePath` as mono samples: WAV natively (at its own rate), anything
 * else (or a WAV encoding the native reader refuses) through ffmpeg at {@link FFMPEG_RATE} Hz.
 * @throws AudioProbeError as {@link probeAudio}.
 */
export async function loadAudio(filePath: string, ffmpeg: FfmpegOptions, maxSeconds: number): Promise<{ samples: Float32Array; rate: number; decoder: 'native' | 'ffmpeg' }> {
  const bytes = await readFile(filePath);
  if (sniffAudioFormat(bytes.subarray(0, 16)) === 'wav') {
    try {
      const { info, samples } = decodeWav(bytes);
      return { samples, rate: info.sampleRate, decoder: 'native' };
    } catch (error) {
      if (!(error instanceof WavFormatError) || error.reason === 'not_wav') throw error;
    }
  }
  if (!(await ffmpegAvailable(ffmpeg.path))) throw new AudioProbeError('needs_ffmpeg', 'Decoding this recording needs ffmpeg, which is not installed on the worker (Debian: apt-get install ffmpeg).');
  return { samples: await decodeWithFfmpeg(filePath, ffmpeg, maxSeconds), rate: FFMPEG_RATE, decoder: 'ffmpeg' };
}
