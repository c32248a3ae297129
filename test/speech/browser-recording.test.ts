/**
 * A recording made the way a browser makes it: Debian's Chromium records a known WAV through its
 * fake microphone (`--use-file-for-fake-audio-capture`) with MediaRecorder (WebM/Opus), and the
 * speech module decodes it with ffmpeg and analyses it: the tone's F0 and the pauses survive the
 * round trip. No database.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { analyseSpeech } from '../../src/speech/analysis/analyse.js';
import { loadAudio, probeAudio } from '../../src/speech/audio/probe.js';
import { CHROMIUM_PATH, chromiumAvailable } from '../helpers/browser.js';

const dir = mkdtempSync(join(tmpdir(), 'speech-browser-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(chromiumAvailable())('a WebM recording from Chromium', () => {
  it('is decoded with ffmpeg and analysed: F0 within 3 Hz, the 0.8 s pauses found', async () => {
    // 1 s of 220 Hz, 0.8 s of silence, repeated: the fake microphone loops the file.
    const source = join(dir, 'source.wav');
    const spec = { rate: 48000, parts: [{ tone: 220, seconds: 1.0, amp: 0.5 }, { silence: 0.8 }, { tone: 220, seconds: 1.0, amp: 0.5 }, { silence: 0.8 }] };
    execFileSync('/usr/bin/python3', [new URL('./signals.py', import.meta.url).pathname, JSON.stringify([{ spec, out: source }])]);
    // getUserMedia needs a secure context: a page from 127.0.0.1.
    const server: Server = createServer((_req, res) => res.end('<!doctype html><title>record</title>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
        '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${source}`, '--autoplay-policy=no-user-gesture-required',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      // Runs in the page (a string, so the DOM types stay out of this Node project).
      const base64 = await page.evaluate<string>(`(async () => {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
        const recorder = new MediaRecorder(stream, { mimeType: 'audio/webm;codecs=opus' });
        const chunks = [];
        recorder.ondataavailable = (event) => chunks.push(event.data);
        const stopped = new Promise((resolve) => (recorder.onstop = resolve));
        recorder.start();
        await new Promise((resolve) => setTimeout(resolve, 4000));
        recorder.stop();
        await stopped;
        const bytes = new Uint8Array(await new Blob(chunks, { type: 'audio/webm' }).arrayBuffer());
        let text = '';
        for (const b of bytes) text += String.fromCharCode(b);
        return btoa(text);
      })()`);
      const webm = join(dir, 'recording.webm');
      writeFileSync(webm, Buffer.from(base64, 'base64'));
      const probed = await probeAudio(webm, { path: 'ffmpeg' }, 600);
      expect(probed.format).toBe('webm');
      expect(probed.durationS).toBeGreaterThan(3);
      expect(probed.durationS).toBeLessThan(5);
      const { samples, rate, decoder } = await loadAudio(webm, { path: 'ffmpeg' }, 600);
      expect(decoder).toBe('ffmpeg');
      const { metrics, pauses } = await analyseSpeech(samples, rate);
      expect(Math.abs(metrics.f0_median_hz! - 220)).toBeLessThanOrEqual(3);
      expect(pauses.length).toBeGreaterThanOrEqual(1);
      for (const pause of pauses) expect(Math.abs(pause.end_s - pause.start_s - 0.8)).toBeLessThanOrEqual(0.06);
    } finally {
      await browser.close();
      server.close();
    }
  }, 90_000);
});
