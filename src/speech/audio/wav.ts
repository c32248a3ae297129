/**
 * A native reader of RIFF/WAVE files (Microsoft's "Multimedia Programming Interface and Data
 * Specifications 1.0", 1991, and the WAVE_FORMAT_EXTENSIBLE addendum): linear PCM of 8 (unsigned),
 * 16, 24 or 32 bits, and IEEE float of 32 or 64 bits, little-endian, at 8–48 kHz, with 1–8
 * channels. No dependency: the format is a header and interleaved samples.
 */

/** Lowest and highest sample rate accepted natively, in Hz. */
export const WAV_MIN_RATE = 8000;
export const WAV_MAX_RATE = 48_000;

/** What a WAV header says about its samples. */
export interface WavInfo {
  /** `pcm` (integer samples) or `float` (IEEE 754). */
  encoding: 'pcm' | 'float';
  /** Samples per second per channel, in Hz. */
  sampleRate: number;
  channels: number;
  /** Bits per sample: 8, 16, 24 or 32 for `pcm`; 32 or 64 for `float`. */
  bitsPerSample: number;
  /** Byte offset of the first sample. */
  dataOffset: number;
  /** Bytes of sample data present (the header's size, clamped to what the file holds, whole frames only). */
  dataBytes: number;
  /** Frames (one sample per channel) present. */
  frames: number;
  /** Duration in seconds: `frames / sampleRate`. */
  durationS: number;
}

/** Why a buffer is not a WAV file this reader takes (`not_wav`: no RIFF/WAVE signature at all). */
export class WavFormatError extends Error {
  constructor(
    readonly reason: 'not_wav' | 'unsupported' | 'malformed',
    message: string,
  ) {
    super(message);
    this.name = 'WavFormatError';
  }
}

/** True when `head` starts with the RIFF/WAVE signature (12 bytes). */
export function looksLikeWav(head: Uint8Array): boolean {
  return head.length >= 12 && ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 4) === 'WAVE';
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

/**
 * Parses the header of a WAV file from its first bytes.
 * @param head the file's first bytes (enough to reach the `data` chunk's header; 64 KiB is plenty for ordinary files)
 * @param fileSize the whole file's size in bytes (the data chunk is clamped to it; streaming writers put 0 or 0xFFFFFFFF there)
 * @throws WavFormatError `not_wav` without the signature, `unsupported` for another encoding, bit depth,
 *   rate or channel count, `malformed` when `fmt ` or `data` is missing or truncated.
 */
export function parseWavHeader(head: Uint8Array, fileSize: number): WavInfo {
  if (!looksLikeWav(head)) throw new WavFormatError('not_wav', 'The file is not RIFF/WAVE.');
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let offset = 12;
  let fmt: Omit<WavInfo, 'dataOffset' | 'dataBytes' | 'frames' | 'durationS'> | undefined;
  let blockAlign = 0;
  while (offset + 8 <= head.length) {
    const id = ascii(head, offset, 4);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > head.length) throw new WavFormatError('malformed', 'The fmt chunk is truncated.');
      let tag = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const sampleRate = view.getUint32(body + 4, true);
      blockAlign = view.getUint16(body + 12, true);
      const bitsPerSample = view.getUint16(body + 14, true);
      if (tag === 0xfffe) {
        // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real format tag.
        if (size < 40 || body + 26 > head.length) throw new WavFormatError('malformed', 'The extensible fmt chunk is truncated.');
        tag = view.getUint16(body + 24, true);
      }
      const encoding = tag === 1 ? 'pcm' : tag === 3 ? 'float' : null;
      if (!encoding) throw new WavFormatError('unsupported', `WAV format tag ${tag} is neither PCM (1) nor IEEE float (3); compressed WAV needs ffmpeg.`);
      if (encoding === 'pcm' && ![8, 16, 24, 32].includes(bitsPerSample)) throw new WavFormatError('unsupported', `${bitsPerSample}-bit PCM is not supported (8, 16, 24 or 32).`);
      if (encoding === 'float' && ![32, 64].includes(bitsPerSample)) throw new WavFormatError('unsupported', `${bitsPerSample}-bit float is not supported (32 or 64).`);
      if (channels < 1 || channels > 8) throw new WavFormatError('unsupported', `${channels} channels: 1 to 8 are read.`);
      if (sampleRate < WAV_MIN_RATE || sampleRate > WAV_MAX_RATE) {
        throw new WavFormatError('unsupported', `A sample rate of ${sampleRate} Hz is outside ${WAV_MIN_RATE}–${WAV_MAX_RATE} Hz.`);
      }
      if (blockAlign !== channels * (bitsPerSample / 8)) throw new WavFormatError('malformed', `Block align ${blockAlign} does not match ${channels} × ${bitsPerSample} bits.`);
      fmt = { encoding, sampleRate, channels, bitsPerSample };
    } else if (id === 'data') {
      if (!fmt) throw new WavFormatError('malformed', 'The data chunk comes before the fmt chunk.');
      const available = Math.max(0, fileSize - body);
      const declared = size === 0 || size === 0xffffffff ? available : size;
      const bytes = Math.min(declared, available);
      const frames = Math.floor(bytes / blockAlign);
      return { ...fmt, dataOffset: body, dataBytes: frames * blockAlign, frames, durationS: frames / fmt.sampleRate };
    }
    offset = body + size + (size % 2); // chunks are padded to even sizes
  }
  throw new WavFormatError('malformed', fmt ? 'No data chunk was found.' : 'No fmt chunk was found.');
}

/**
 * Decodes a whole WAV file to one channel (the mean of the channels) of samples in [−1, 1]:
 * integer PCM is divided by 2^(bits−1) (8-bit is unsigned, centred on 128), float is taken as is.
 * @returns the header and the mono samples.
 * @throws WavFormatError as {@link parseWavHeader}.
 */
export function decodeWav(file: Uint8Array): { info: WavInfo; samples: Float32Array } {
  const info = parseWavHeader(file, file.length);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const { channels, frames, bitsPerSample, encoding } = info;
  const bytesPerSample = bitsPerSample / 8;
  const samples = new Float32Array(frames);
  const read = sampleReader(view, encoding, bitsPerSample);
  let at = info.dataOffset;
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      sum += read(at);
      at += bytesPerSample;
    }
    samples[i] = sum / channels;
  }
  return { info, samples };
}

function sampleReader(view: DataView, encoding: WavInfo['encoding'], bits: number): (at: number) => number {
  if (encoding === 'float') return bits === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true);
  switch (bits) {
    case 8:
      return (at) => (view.getUint8(at) - 128) / 128;
    case 16:
      return (at) => view.getInt16(at, true) / 32768;
    case 24:
      return (at) => {
        const value = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16);
        return value / 8_388_608;
      };
    default:
      return (at) => view.getInt32(at, true) / 2_147_483_648;
  }
}

/**
 * Encodes mono samples in [−1, 1] as a 16-bit PCM WAV file (values outside are clipped).
 * Used by tests and tools that need a canonical file.
 */
export function encodeWav16(samples: Float32Array, sampleRate: number): Buffer {
  const out = Buffer.alloc(44 + samples.length * 2);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + samples.length * 2, 4);
  out.write('WAVEfmt ', 8, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(samples.length * 2, 40);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i] ?? 0));
    out.writeInt16LE(Math.round(s < 0 ? s * 32768 : s * 32767), 44 + i * 2);
  }
  return out;
}
