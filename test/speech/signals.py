"""Test signals for the speech analysis, and their reference values computed with numpy.

Usage: python3 signals.py '[{"spec": SPEC, "out": "file.wav"}, ...]'  ->  prints a JSON list of
reference objects, one per signal (one Python start for many signals).

SPEC: {"rate": 16000, "channels": 1, "encoding": "pcm16" | "pcm8" | "pcm24" | "pcm32" | "float32",
       "parts": [{"silence": 0.3} | {"tone": 220, "seconds": 1.0, "amp": 0.5, "harmonics": 1, "shape": "flat" | "hann"}
                 | {"chirp": [100, 200], "seconds": 2.0, "amp": 0.5}]}
References: samples, duration_s, tone_rms_dbfs (RMS over every non-silent part, dBFS, full-scale
square = 0 dB), frame_db_sd (population SD of the 10 ms frame levels over frames wholly inside
tones), pauses (the silences between two sounding parts, as [start, end] seconds), step_db (the
level of each whole 50 ms step, None for digital silence).
"""
import json, struct, sys
import numpy as np

def make(spec, out):
    rate = spec["rate"]
    pieces, spans, t = [], [], 0
    for part in spec["parts"]:
        if "silence" in part:
            n = int(round(part["silence"] * rate))
            pieces.append(np.zeros(n)); t += n
            continue
        n = int(round(part["seconds"] * rate))
        time = np.arange(n) / rate
        if "chirp" in part:
            f0, f1 = part["chirp"]
            phase = 2 * np.pi * (f0 * time + (f1 - f0) * time ** 2 / (2 * part["seconds"]))
            x = np.sin(phase)
        else:
            h = part.get("harmonics", 1)
            x = sum(np.sin(2 * np.pi * part["tone"] * k * time) / k for k in range(1, h + 1))
            x = x / np.max(np.abs(x))
        if part.get("shape") == "hann":
            x = x * np.hanning(n)
        x = part["amp"] * x
        pieces.append(x); spans.append((t, t + n)); t += n
    signal = np.concatenate(pieces) if pieces else np.zeros(0)

    # Quantise like the file will, so references describe the exact samples the server reads.
    enc = spec.get("encoding", "pcm16")
    if enc == "pcm8":
        q = np.clip(np.round(signal * 128) + 128, 0, 255).astype(np.uint8); read = (q.astype(float) - 128) / 128
        data, bits, tag = q.tobytes(), 8, 1
    elif enc == "pcm16":
        q = np.clip(np.round(signal * 32767), -32768, 32767).astype("<i2"); read = q / 32768.0
        data, bits, tag = q.tobytes(), 16, 1
    elif enc == "pcm24":
        q = np.clip(np.round(signal * 8388607), -8388608, 8388607).astype("<i4"); read = q / 8388608.0
        data, bits, tag = b"".join(int(v).to_bytes(4, "little", signed=True)[:3] for v in q), 24, 1
    elif enc == "pcm32":
        q = np.clip(np.round(signal * 2147483647), -2147483648, 2147483647).astype("<i4"); read = q / 2147483648.0
        data, bits, tag = q.tobytes(), 32, 1
    else:
        q = signal.astype("<f4"); read = q.astype(float)
        data, bits, tag = q.tobytes(), 32, 3
    channels = spec.get("channels", 1)
    if channels == 2:
        width = bits // 8
        frames = [data[i:i + width] for i in range(0, len(data), width)]
        data = b"".join(f + f for f in frames)
    block = channels * bits // 8
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, tag, channels, rate, rate * block, block, bits)
    with open(out, "wb") as fh:
        fh.write(header + b"data" + struct.pack("<I", len(data)) + data)

    tone = np.concatenate([read[a:b] for a, b in spans]) if spans else np.zeros(1)
    hop = int(round(rate * 0.01))
    frame_db = []
    for a, b in spans:
        first = -(-a // hop)
        for f in range(first, b // hop):
            if (f + 1) * hop <= b:
                frame_db.append(10 * np.log10(np.mean(read[f * hop:(f + 1) * hop] ** 2)))
    pauses = [[spans[i][1] / rate, spans[i + 1][0] / rate] for i in range(len(spans) - 1)]
    return {
        "samples": int(len(read)),
        "duration_s": len(read) / rate,
        "tone_rms_dbfs": float(10 * np.log10(np.mean(tone ** 2))) if spans else None,
        "frame_db_sd": float(np.std(frame_db)) if frame_db else None,
        "pauses": pauses,
        "speech_s": float(sum(b - a for a, b in spans) / rate),
        # Level of each whole 50 ms step (5 frames of 10 ms), dBFS; None where the step is digital silence.
        "step_db": [
            (float(10 * np.log10(m)) if m > 0 else None)
            for m in (np.mean(read[i * 5 * hop:(i + 1) * 5 * hop] ** 2) for i in range(len(read) // (5 * hop)))
        ],
    }


print(json.dumps([make(item["spec"], item["out"]) for item in json.loads(sys.argv[1])]))
