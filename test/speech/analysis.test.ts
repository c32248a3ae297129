/**
 * The speech analysis against independent references: synthetic signals whose truth is known in
 * closed form (tones of known frequency, silences of known length) with numpy computing the
 * loudness references; real synthetic speech (espeak-ng, edited with sox) against Praat's pitch
 * tracker; every WAV encoding the native reader takes; ffmpeg-decoded formats. No database.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyseSpeech, type SpeechAnalysis } from '../../src/speech/analysis/analyse.js';
import { feedbackFor, sessionScore } from '../../src/speech/analysis/feedback.js';
import { AudioProbeError, loadAudio, probeAudio, sniffAudioFormat } from '../../src/speech/audio/probe.js';
import { decodeWav } from '../../src/speech/audio/wav.js';
import { countFillers, parsePocketsphinxWords, transcribe } from '../../src/speech/transcript.js';

const dir = mkdtempSync(join(tmpdir(), 'speech-analysis-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
/** CI installs every tool (.ci/run); elsewhere a missing one skips its tests. */
const needs = (...tools: string[]) => !!process.env.CI || tools.every(has);
const FFMPEG = { path: 'ffmpeg' };

interface Reference {
  samples: number;
  duration_s: number;
  tone_rms_dbfs: number;
  frame_db_sd: number | null;
  pauses: Array<[number, number]>;
  speech_s: number;
  step_db: Array<number | null>;
}

/** Writes every named signal with test/speech/signals.py in one Python run; returns paths and numpy's references. */
function makeSignals<K extends string>(specs: Record<K, Record<string, unknown>>): Record<K, { path: string; ref: Reference }> {
  const names = Object.keys(specs) as K[];
  const items = names.map((name) => ({ spec: specs[name], out: join(dir, `${name}.wav`) }));
  const refs = JSON.parse(execFileSync('/usr/bin/python3', [new URL('./signals.py', import.meta.url).pathname, JSON.stringify(items)], { encoding: 'utf8' })) as Reference[];
  return Object.fromEntries(names.map((name, i) => [name, { path: items[i]!.out, ref: refs[i]! }])) as Record<K, { path: string; ref: Reference }>;
}

async function analyseFile(path: string): Promise<SpeechAnalysis> {
  const { samples, rate } = await loadAudio(path, FFMPEG, 600);
  return analyseSpeech(samples, rate);
}


const TONES = [{ silence: 0.3 }, { tone: 220, seconds: 1.0, amp: 0.5 }, { silence: 0.6 }, { tone: 220, seconds: 1.0, amp: 0.25 }, { silence: 1.2 }, { tone: 220, seconds: 0.8, amp: 0.5 }, { silence: 0.2 }];
const VARIANTS = {
  '8-bit PCM': { encoding: 'pcm8' },
  '24-bit PCM': { encoding: 'pcm24' },
  '32-bit PCM': { encoding: 'pcm32' },
  '32-bit float': { encoding: 'float32' },
  '16-bit stereo': { encoding: 'pcm16', channels: 2 },
  '48 kHz': { rate: 48000 },
  '44.1 kHz 24-bit stereo': { rate: 44100, encoding: 'pcm24', channels: 2 },
  '8 kHz': { rate: 8000 },
} as const;
const bursts: Array<Record<string, unknown>> = [{ silence: 0.3 }];
for (let i = 0; i < 6; i++) bursts.push({ tone: 150, harmonics: 4, seconds: 0.18, amp: 0.5, shape: 'hann' }, { silence: 0.07 });
bursts.push({ silence: 0.5 });
const S = makeSignals({
  tones: { rate: 16000, parts: TONES },
  ...Object.fromEntries(Object.entries(VARIANTS).map(([, variant], i) => [`variant${i}`, { rate: 16000, parts: TONES, ...variant }])),
  harmonic110: { rate: 16000, parts: [{ silence: 0.2 }, { tone: 110, harmonics: 6, seconds: 1.5, amp: 0.4 }, { silence: 0.2 }] },
  harmonic205: { rate: 16000, parts: [{ silence: 0.2 }, { tone: 205, harmonics: 6, seconds: 1.5, amp: 0.4 }, { silence: 0.2 }] },
  glide: { rate: 16000, parts: [{ silence: 0.2 }, { chirp: [100, 200], seconds: 2.0, amp: 0.4 }, { silence: 0.2 }] },
  bursts: { rate: 16000, parts: bursts },
  close: { rate: 16000, parts: [{ silence: 0.2 }, { tone: 200, seconds: 0.5, amp: 0.5 }, { silence: 0.15 }, { tone: 200, seconds: 0.5, amp: 0.5 }, { silence: 0.2 }] },
  silence: { rate: 16000, parts: [{ silence: 2 }] },
  empty: { rate: 16000, parts: [] },
  long: { rate: 8000, parts: [{ silence: 3 }] },
  tones48k: { rate: 48000, parts: TONES },
} as Record<string, Record<string, unknown>>);
const sig = (name: string) => S[name]!;

describe('analysis of synthetic signals (closed-form truth, numpy references)', () => {
  it('tones and silences: exact duration, pauses to 20 ms, loudness and its spread as numpy computes them, F0 to 2 Hz, one nucleus per tone', async () => {
    const { path, ref } = sig('tones');
    const { metrics, pauses, syllables } = await analyseFile(path);
    expect(metrics.duration_s).toBe(Number(ref.duration_s.toFixed(4)));
    expect(metrics.duration_s).toBe(5.1);
    expect(pauses).toHaveLength(2);
    expect(metrics.pause_count).toBe(2);
    for (const [i, [start, end]] of ref.pauses.entries()) {
      expect(Math.abs(pauses[i]!.start_s - start)).toBeLessThanOrEqual(0.02);
      expect(Math.abs(pauses[i]!.end_s - end)).toBeLessThanOrEqual(0.02);
    }
    expect(metrics.pause_max_s).toBeCloseTo(1.2, 1);
    expect(Math.abs(metrics.pause_mean_s - 0.9)).toBeLessThanOrEqual(0.02);
    expect(Math.abs(metrics.speech_s - ref.speech_s)).toBeLessThanOrEqual(0.03);
    // Pause ratio: 1.8 s of pauses over the 4.6 s from the first tone's start to the last one's end.
    expect(Math.abs(metrics.pause_ratio - 1.8 / 4.6)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(metrics.loudness_dbfs! - ref.tone_rms_dbfs)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(metrics.loudness_sd_db! - ref.frame_db_sd!)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(metrics.f0_median_hz! - 220)).toBeLessThanOrEqual(2);
    expect(Math.abs(metrics.f0_p10_hz! - 220)).toBeLessThanOrEqual(2);
    expect(Math.abs(metrics.f0_p90_hz! - 220)).toBeLessThanOrEqual(2);
    expect(syllables).toHaveLength(3);
    expect(metrics.speech_rate_syll_s).toBeCloseTo(3 / 5.1, 2);
  });

  it('contours: the loudness of each 50 ms step as numpy computes it, F0 of 220 Hz inside the tones and none in the silences', async () => {
    const { path, ref } = sig('tones');
    const { contours } = await analyseFile(path);
    expect(contours.step_s).toBe(0.05);
    // 5.1 s of 10 ms frames in steps of 5: 102 points.
    expect(contours.loudness_dbfs).toHaveLength(102);
    expect(contours.f0_hz).toHaveLength(102);
    expect(ref.step_db).toHaveLength(102);
    for (const [i, level] of ref.step_db.entries()) {
      if (level === null) expect(contours.loudness_dbfs[i], `step ${i}`).toBeNull();
      else expect(Math.abs(contours.loudness_dbfs[i]! - level), `step ${i}`).toBeLessThanOrEqual(0.06);
    }
    // Steps wholly inside a tone (0.3–1.3 s, 1.9–2.9 s, 4.1–4.9 s) and wholly inside a silence.
    const inside = (t: number, spans: Array<[number, number]>) => spans.some(([a, b]) => t >= a && t + 0.05 <= b);
    const tones: Array<[number, number]> = [[0.3, 1.3], [1.9, 2.9], [4.1, 4.9]];
    const silences: Array<[number, number]> = [[0, 0.3], [1.3, 1.9], [2.9, 4.1], [4.9, 5.1]];
    contours.f0_hz.forEach((hz, i) => {
      const t = Math.round(i * 5) / 100;
      if (inside(t, tones)) expect(Math.abs(hz! - 220), `step ${i}`).toBeLessThanOrEqual(2);
      if (inside(t, silences)) expect(hz, `step ${i}`).toBeNull();
    });
  });

  it('contours of a long recording stay within 600 points', async () => {
    const { contours } = await analyseSpeech(new Float32Array(8000 * 70), 8000);
    // 7,000 frames in steps of ceil(7000 / 600) = 12 frames.
    expect(contours.step_s).toBe(0.12);
    expect(contours.loudness_dbfs).toHaveLength(584);
    expect(contours.loudness_dbfs.every((v) => v === null)).toBe(true);
  });

  it.each(Object.keys(VARIANTS).map((name, i) => [name, i] as const))('reads %s natively with the same results', async (_name, i) => {
    const { path, ref } = sig(`variant${i}`);
    const { info } = decodeWav(readFileSync(path));
    expect(info.frames).toBe(ref.samples);
    const { metrics, pauses } = await analyseFile(path);
    expect(metrics.duration_s).toBe(Number(ref.duration_s.toFixed(4)));
    expect(pauses.map((p) => p.end_s - p.start_s).map((s) => Math.round(s * 10) / 10)).toEqual([0.6, 1.2]);
    expect(Math.abs(metrics.f0_median_hz! - 220)).toBeLessThanOrEqual(2);
    // 8-bit quantisation noise sits at about −50 dBFS: the loudness still matches numpy's.
    expect(Math.abs(metrics.loudness_dbfs! - ref.tone_rms_dbfs)).toBeLessThanOrEqual(0.15);
  });

  it('F0 of harmonic tones at 110 and 205 Hz, and quantiles of a 100→200 Hz glide (linear: p10 = 110, median 150, p90 = 190)', async () => {
    for (const hz of [110, 205]) {
      const { path } = sig(`harmonic${hz}`);
      const { metrics } = await analyseFile(path);
      expect(Math.abs(metrics.f0_median_hz! - hz)).toBeLessThanOrEqual(2);
    }
    const { path } = sig('glide');
    const { metrics } = await analyseFile(path);
    expect(Math.abs(metrics.f0_median_hz! - 150)).toBeLessThanOrEqual(3);
    expect(Math.abs(metrics.f0_p10_hz! - 110)).toBeLessThanOrEqual(3);
    expect(Math.abs(metrics.f0_p90_hz! - 190)).toBeLessThanOrEqual(3);
  });

  it('counts one syllable nucleus per burst, and articulation rate = nuclei / speech time', async () => {
    const { path } = sig('bursts');
    const { metrics, syllables, pauses } = await analyseFile(path);
    expect(syllables).toHaveLength(6);
    expect(pauses).toHaveLength(0); // 70 ms gaps are shorter than the 250 ms minimum pause
    expect(metrics.articulation_rate_syll_s).toBeCloseTo(6 / metrics.speech_s, 2);
  });

  it('a shorter minimum pause splits what the default joins', async () => {
    const { path } = sig('close');
    const { samples, rate } = await loadAudio(path, FFMPEG, 600);
    expect((await analyseSpeech(samples, rate)).metrics.pause_count).toBe(0);
    const split = await analyseSpeech(samples, rate, { minPauseS: 0.1 });
    expect(split.metrics.pause_count).toBe(1);
    expect(Math.abs(split.pauses[0]!.end_s - split.pauses[0]!.start_s - 0.15)).toBeLessThanOrEqual(0.02);
  });

  it('digital silence is no speech: zero rates, null loudness and F0, one feedback sentence', async () => {
    const { path } = sig('silence');
    const { metrics } = await analyseFile(path);
    expect(metrics).toMatchObject({ duration_s: 2, speech_s: 0, pause_count: 0, loudness_dbfs: null, f0_median_hz: null, speech_rate_syll_s: 0 });
    expect(feedbackFor(metrics)).toEqual(['No speech was detected: check the microphone and record again.']);
    expect(sessionScore(metrics)).toBe(0);
  });
});

describe('probing uploads', () => {
  it('sniffs formats and refuses what is not audio, or empty', async () => {
    const png = join(dir, 'image.png');
    writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'));
    await expect(probeAudio(png, FFMPEG, 600)).rejects.toMatchObject({ reason: 'not_audio' });
    const { path: empty } = sig('empty');
    await expect(probeAudio(empty, FFMPEG, 600)).rejects.toMatchObject({ reason: 'empty' });
    const { path: long } = sig('long');
    await expect(probeAudio(long, FFMPEG, 2)).rejects.toMatchObject({ reason: 'too_long' });
    expect(await probeAudio(long, FFMPEG, 600)).toEqual({ format: 'wav', durationS: 3 });
    expect(sniffAudioFormat(Buffer.from('OggS\0\0\0\0\0\0\0\0'))).toBe('ogg');
    expect(sniffAudioFormat(Buffer.from('1a45dfa3000000000000000000', 'hex'))).toBe('webm');
    expect(sniffAudioFormat(Buffer.from('\0\0\0\x20ftypM4A \0\0\0\0', 'latin1'))).toBe('m4a');
  });

  it('names ffmpeg when a compressed format arrives and it is missing', async () => {
    const ogg = join(dir, 'fake.ogg');
    writeFileSync(ogg, Buffer.concat([Buffer.from('OggS'), Buffer.alloc(60)]));
    const error = await probeAudio(ogg, { path: join(dir, 'no-such-ffmpeg') }, 600).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AudioProbeError);
    expect(error).toMatchObject({ reason: 'needs_ffmpeg', format: 'ogg' });
    expect((error as Error).message).toMatch(/apt-get install ffmpeg/);
  });

  it.runIf(needs('ffmpeg'))('decodes Ogg/Opus, WebM/Opus, MP3, FLAC and M4A with ffmpeg: duration within 1 %, F0 and pauses as in the WAV', async () => {
    const { path, ref } = sig('tones48k');
    for (const [ext, codec] of [['ogg', 'libopus'], ['webm', 'libopus'], ['mp3', 'libmp3lame'], ['flac', 'flac'], ['m4a', 'aac']] as const) {
      const target = join(dir, `tones.${ext}`);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path, '-c:a', codec, target]);
      const probed = await probeAudio(target, FFMPEG, 600);
      expect(probed.format).toBe(ext);
      expect(Math.abs(probed.durationS - ref.duration_s) / ref.duration_s).toBeLessThan(0.01);
      const { metrics, pauses } = await analyseFile(target);
      expect(Math.abs(metrics.f0_median_hz! - 220), ext).toBeLessThanOrEqual(2);
      expect(pauses.map((p) => Math.round((p.end_s - p.start_s) * 10) / 10), ext).toEqual([0.6, 1.2]);
    }
  });
});

describe.runIf(needs('espeak-ng', 'sox', 'praat'))('real (synthetic) speech: espeak-ng, sox and Praat', () => {
  const SENTENCE = 'The quick brown fox jumps over the lazy dog while the children watch from the garden';
  const say = (name: string, voice: string, wpm: number, text = SENTENCE) => {
    const raw = join(dir, `${name}-raw.wav`);
    const out = join(dir, `${name}.wav`);
    execFileSync('espeak-ng', ['-v', voice, '-s', String(wpm), '-w', raw, text]);
    // Trim espeak's own leading and trailing silence (TEST-PEERS.md).
    execFileSync('sox', [raw, out, 'silence', '1', '0.01', '1%', 'reverse', 'silence', '1', '0.01', '1%', 'reverse']);
    return out;
  };
  const praatMedian = (file: string) => {
    const script = join(dir, 'pitch.praat');
    writeFileSync(script, 'form Pitch\n  sentence file\nendform\ns = Read from file: file$\np = To Pitch: 0, 75, 600\nm = Get quantile: 0, 0, 0.5, "Hertz"\nwriteInfoLine: m\n');
    return Number(execFileSync('praat', ['--run', script, file], { encoding: 'utf8' }).trim());
  };

  it('the same sentence at 220 wpm has a speech rate at least 1.5 × the one at 120 wpm', async () => {
    const slow = await analyseFile(say('slow', 'en+m3', 120));
    const fast = await analyseFile(say('fast', 'en+m3', 220));
    expect(fast.metrics.speech_rate_syll_s / slow.metrics.speech_rate_syll_s).toBeGreaterThanOrEqual(1.5);
    // 20 syllables in the sentence; de Jong & Wempe's method finds most of them.
    expect(Math.abs(slow.syllables.length - 20)).toBeLessThanOrEqual(4);
  });

  it('silences of 0.6 s and 1.2 s inserted with sox: two pauses, each within 60 ms; duration within 1 %', async () => {
    const a = say('part-a', 'en+f3', 160, 'The quick brown fox jumps over the lazy dog');
    const b = say('part-b', 'en+f3', 160, 'While the children watch from the garden');
    const c = say('part-c', 'en+f3', 160, 'And the evening light fades slowly');
    const joined = join(dir, 'joined.wav');
    const padA = join(dir, 'pad-a.wav');
    const padB = join(dir, 'pad-b.wav');
    execFileSync('sox', [a, padA, 'pad', '0', '0.6']);
    execFileSync('sox', [b, padB, 'pad', '0', '1.2']);
    execFileSync('sox', [padA, padB, c, joined]);
    const expectedDuration = Number(execFileSync('soxi', ['-D', joined], { encoding: 'utf8' }));
    const { metrics, pauses } = await analyseFile(joined);
    expect(Math.abs(metrics.duration_s - expectedDuration) / expectedDuration).toBeLessThan(0.01);
    const long = pauses.filter((p) => p.end_s - p.start_s > 0.45);
    expect(long).toHaveLength(2);
    expect(Math.abs(long[0]!.end_s - long[0]!.start_s - 0.6)).toBeLessThanOrEqual(0.06);
    expect(Math.abs(long[1]!.end_s - long[1]!.start_s - 1.2)).toBeLessThanOrEqual(0.06);
  });

  it('a male and a female voice: F0 medians in the right order and within 10 % of Praat on the same files', async () => {
    const male = say('male', 'en+m3', 150);
    const female = say('female', 'en+f3', 150);
    const m = (await analyseFile(male)).metrics.f0_median_hz!;
    const f = (await analyseFile(female)).metrics.f0_median_hz!;
    expect(m).toBeLessThan(f);
    const pm = praatMedian(male);
    const pf = praatMedian(female);
    expect(Math.abs(m - pm) / pm).toBeLessThan(0.1);
    expect(Math.abs(f - pf) / pf).toBeLessThan(0.1);
  });
});

describe.runIf(needs('flite', 'pocketsphinx_continuous'))('transcripts with pocketsphinx', () => {
  it('transcribes flite speech nearly word for word, with words per minute and filler words', async () => {
    const file = join(dir, 'kal.wav');
    execFileSync('flite', ['-voice', 'kal16', '-t', 'I think that the quick brown fox is like you know very fast', '-o', file]);
    const { samples, rate } = await loadAudio(file, FFMPEG, 600);
    const { metrics } = await analyseSpeech(samples, rate);
    const fields = await transcribe(samples, rate, { speechS: metrics.speech_s, durationS: metrics.duration_s });
    expect(fields.transcript).toMatch(/quick brown fox/);
    expect(fields.filler_words).toMatchObject({ like: 1, 'you know': 1 });
    const words = fields.transcript!.split(' ').length;
    expect(fields.words_per_minute).toBeCloseTo((words * 60) / metrics.duration_s, 1);
    expect(await transcribe(samples, rate, { speechS: 0, durationS: metrics.duration_s })).toEqual({ transcript_note: 'No transcript was made: no speech was detected.' });
  });
});

describe('feedback, score and transcript parsing (hand-computed)', () => {
  const base = {
    duration_s: 60, speech_s: 45, pause_count: 10, pause_mean_s: 0.8, pause_max_s: 1.5, pause_ratio: 0.15,
    speech_rate_syll_s: 3.75, articulation_rate_syll_s: 5, loudness_dbfs: -20, loudness_sd_db: 6,
    f0_median_hz: 120, f0_p10_hz: 100, f0_p90_hz: 160,
  };

  it('says nothing is wrong inside every band, and scores 100', () => {
    // 3.75 syll/s × 60 / 1.5 = 150 wpm; pause ratio 0.15 ≤ 0.2; span 12·log2(1.6) = 8.1 st ≥ 4.
    expect(feedbackFor(base)).toEqual(['Pace, pauses, loudness and intonation were all in a comfortable range: keep it up.']);
    expect(sessionScore(base)).toBe(100);
  });

  it('calls out fast pace, long and frequent pauses, quiet and flat voice, monotone pitch and a short answer', () => {
    const metrics = { ...base, speech_rate_syll_s: 5, pause_max_s: 3.4, pause_ratio: 0.4, loudness_dbfs: -40, loudness_sd_db: 2, f0_p10_hz: 110, f0_p90_hz: 120, duration_s: 20 };
    expect(feedbackFor(metrics, { expectedSeconds: 60 })).toEqual([
      'Your pace was about 200 words per minute, faster than 180: slow down so each point lands.',
      'Your longest pause lasted 3.4 s; pauses of 3 s or more sound like a lost thread.',
      'Pauses took 40% of your speaking time, more than 35%: join related ideas without stopping.',
      'Your voice averaged -40.0 dBFS, which is quiet: speak up or move closer to the microphone.',
      'Your volume hardly varied (2.0 dB spread): stress the key words.',
      'Your pitch stayed within 1.5 semitones: vary your intonation to sound engaged.',
      'Your answer lasted 20 s, under half of the 60 s expected: develop it further.',
    ]);
    // pace: 200 wpm is 30 over 170 → 1 − 30/60 = 0.5; pauses: 1 − (0.4 − 0.2)/0.4 = 0.5;
    // intonation: 12·log2(120/110) = 1.506 st / 4 = 0.3765 → 100 × (0.5 + 0.5 + 0.3765) / 3 = 45.9.
    expect(sessionScore(metrics)).toBe(45.9);
    // A transcript's words per minute overrides the syllable estimate: 150 wpm is in the band.
    expect(feedbackFor(metrics, { transcriptWpm: 150 })[0]).toMatch(/longest pause/);
  });

  it('parses pocketsphinx word timings and counts filler words', () => {
    const out = 'um i think\n<s> 0.000 0.160 0.99\num 0.170 0.310 0.44\ni 0.320 0.520 0.53\nthink(2) 0.530 0.790 0.74\n<sil> 0.8 0.9 1.0\nlike 0.9 1.0 0.9\nyou 1.0 1.1 0.9\nknow 1.1 1.2 0.9\n[NOISE] 1.2 1.3 1.0\n</s> 1.3 1.4 1.0\n';
    const words = parsePocketsphinxWords(out);
    expect(words).toEqual(['um', 'i', 'think', 'like', 'you', 'know']);
    expect(countFillers(words)).toEqual({ um: 1, like: 1, 'you know': 1 });
  });
});
