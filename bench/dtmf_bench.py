"""DTMF detection and masking benchmark: cardshield beside spandsp and multimon-ng.

One generated corpus, every case through a mu-law line: Q.24 accept cases (offsets, levels,
twist edges, 40 ms tones, 15 dB SNR, dial tone, drop-outs), reject cases (3.5-5% offsets,
-55 dBm0, 10-23 ms tones) and talk-off (espeak-ng speech, synthetic music). Accuracy is the
share of cases whose digit string comes out exactly right; false digits are counted on the
reject and talk-off sets. spandsp runs through a small C harness compiled here with gcc
(default receiver parameters, 20 ms frames); multimon-ng reads the same audio resampled to
its 22050 Hz. Speed: CPU seconds on one core for the whole corpus as one stream (spandsp:
inside dtmf_rx() only; multimon-ng: the whole process), and how many concurrent calls one
core masks in real time with the batched masker (20 ms frames).

Run: ``python bench/dtmf_bench.py [--quick]``. The last line is one JSON object.
"""

from __future__ import annotations

import os

# One core: numpy's BLAS must not spread the work over threads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from cardshield.phone.dsp import (  # noqa: E402
    BatchMasker,
    DTMFDetector,
    StreamMasker,
    detect,
    g711,
    generate,
    resample,
    talkoff,
)

HARNESS = Path(__file__).parent / "harness" / "spandsp_dtmf.c"
RATE = 8000
KEYS = "0123456789*#ABCD"


@dataclass(frozen=True)
class Case:
    group: str  # accept | reject | talk-off
    name: str
    samples: np.ndarray  # int16, 8 kHz, after a mu-law line
    expected: str


def _line(x: np.ndarray) -> np.ndarray:
    return g711.decode(g711.encode(x, "mulaw"), "mulaw")


def _offsets(pct: float, hz: float, lo: int, hi: int) -> dict[str, float]:
    return {
        "low_offset_pct": lo * pct,
        "low_offset_hz": lo * hz,
        "high_offset_pct": hi * pct,
        "high_offset_hz": hi * hz,
    }


ACCEPT: dict[str, dict[str, Any]] = {
    "nominal": {},
    "level 0 dBm0": {"level_dbm0": 0.0},
    "level -25 dBm0": {"level_dbm0": -25.0},
    "twist +4 at 0 dBm0": {"level_dbm0": -4.0, "twist_db": 4.0},
    "twist +4 at -25 dBm0": {"level_dbm0": -25.0, "twist_db": 4.0},
    "twist -8 at 0 dBm0": {"level_dbm0": 0.0, "twist_db": -8.0},
    "twist -8 at -25 dBm0": {"level_dbm0": -17.0, "twist_db": -8.0},
    "twist -8, 15 dB SNR": {"level_dbm0": -17.0, "twist_db": -8.0, "noise_snr_db": 15.0},
    "duration 40 ms": {"on_ms": 40.0, "off_ms": 40.0},
    "duration 40 ms at -25 dBm0": {"on_ms": 40.0, "off_ms": 40.0, "level_dbm0": -25.0},
    "15 dB SNR at -25 dBm0": {"level_dbm0": -25.0, "noise_snr_db": 15.0},
    "dial tone -10 dB": {"level_dbm0": -20.0, "dial_tone_db": -10.0},
    "drop-out 10 ms": {"on_ms": 80.0, "dropout_ms": 10.0},
    **{
        f"offset {lo * 1.5:+}%{lo * 2:+}Hz / {hi * 1.5:+}%{hi * 2:+}Hz": _offsets(1.5, 2.0, lo, hi)
        for lo, hi in [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    },
}
REJECT: dict[str, dict[str, Any]] = {
    "offset low +3.5%": {"low_offset_pct": 3.5},
    "offset low -3.5%": {"low_offset_pct": -3.5},
    "offset high +3.5%": {"high_offset_pct": 3.5},
    "offset high -3.5%": {"high_offset_pct": -3.5},
    "offset both +5%": {"low_offset_pct": 5.0, "high_offset_pct": 5.0},
    "level -55 dBm0": {"level_dbm0": -55.0},
    "duration 23 ms": {"on_ms": 23.0, "off_ms": 60.0},
    "duration 20 ms": {"on_ms": 20.0, "off_ms": 60.0},
    "duration 10 ms": {"on_ms": 10.0, "off_ms": 60.0},
}


def build_corpus(per_cell: int, clips: int, music_s: float, workdir: Path) -> list[Case]:
    rng = np.random.default_rng(2024)
    cases: list[Case] = []
    for group, cells in (("accept", ACCEPT), ("reject", REJECT)):
        for name, options in cells.items():
            for _ in range(per_cell):
                keyed = "".join(rng.choice(list(KEYS), 4))
                sig = generate(
                    keyed,
                    lead_ms=float(rng.uniform(20, 60)),
                    seed=int(rng.integers(1 << 31)),
                    **options,
                )
                expected = keyed if group == "accept" else ""
                cases.append(Case(group, name, _line(sig.samples), expected))
    for clip in talkoff.speech_clips(workdir, clips, seed=99):
        cases.append(Case("talk-off", "speech", clip, ""))
    for seed in range(max(1, round(music_s / 60))):
        cases.append(Case("talk-off", "music", talkoff.music(60, seed=100 + seed), ""))
    return cases


def run_cardshield(cases: list[Case]) -> list[str]:
    return ["".join(e.digit for e in detect(c.samples)) for c in cases]


def compile_harness(workdir: Path) -> Path:
    exe = workdir / "spandsp_dtmf"
    subprocess.run(
        ["gcc", "-O2", "-o", str(exe), str(HARNESS), "-lspandsp", "-lm"],
        check=True,
        capture_output=True,
    )
    return exe


def run_spandsp(exe: Path, streams: list[np.ndarray]) -> tuple[list[str], float]:
    blob = b"".join(struct.pack("<I", len(x)) + x.astype("<i2").tobytes() for x in streams)
    out = subprocess.run([str(exe)], input=blob, capture_output=True, check=True).stdout
    lines = out.decode().split("\n")
    cpu = float(lines[len(streams)].split()[1])
    return lines[: len(streams)], cpu


def _to_22050(x: np.ndarray) -> bytes:
    y = resample(x.astype(np.float64), RATE, 22050)
    return np.clip(np.rint(y), -32768, 32767).astype("<i2").tobytes()


def run_multimon(raw: bytes) -> tuple[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["multimon-ng", "-q", "-c", "-a", "DTMF", "-t", "raw", "-"],
        input=raw,
        capture_output=True,
        check=True,
    ).stdout.decode()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    digits = "".join(line.split(":", 1)[1].strip() for line in out.splitlines() if "DTMF" in line)
    return digits, cpu


def detection_cpu(stream: np.ndarray, frame: int) -> float:
    detector = DTMFDetector()
    start = time.process_time()
    for i in range(0, len(stream), frame):
        detector.feed(stream[i : i + frame])
    detector.flush()
    return time.process_time() - start


def masking_cpu(calls: int, seconds: float, pool: np.ndarray) -> tuple[float, float]:
    """CPU seconds per 20 ms frame: batched for ``calls`` calls, and one StreamMasker."""
    rng = np.random.default_rng(7)
    n = int(seconds * RATE) // 160 * 160
    starts = rng.integers(0, len(pool) - n, size=calls)
    audio = g711.encode(np.stack([pool[s : s + n] for s in starts]), "mulaw")
    batch = BatchMasker(calls, encoding="mulaw", on_digit=lambda call, event: None)
    start = time.process_time()
    for i in range(0, n, 160):
        batch.process(audio[:, i : i + 160])
    batched = (time.process_time() - start) / (n // 160)
    single = StreamMasker(encoding="mulaw", on_digit=lambda event: None)
    start = time.process_time()
    for i in range(0, n, 160):
        single.process(audio[0, i : i + 160])
    return batched, (time.process_time() - start) / (n // 160)


def summarise(cases: list[Case], found: list[str]) -> dict[str, float]:
    res: dict[str, float] = {}
    for group in ("accept", "reject", "talk-off"):
        idx = [i for i, c in enumerate(cases) if c.group == group]
        res[f"{group}_exact"] = sum(found[i] == cases[i].expected for i in idx) / len(idx)
    res["false_digits"] = sum(len(found[i]) for i, c in enumerate(cases) if c.group != "accept")
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small corpus")
    args = parser.parse_args()
    for tool in ("gcc", "multimon-ng", "espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"error: {tool} is not installed (make system-deps)")
    per_cell, clips, music_s = (3, 12, 60.0) if args.quick else (16, 60, 180.0)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cases = build_corpus(per_cell, clips, music_s, workdir)
        exe = compile_harness(workdir)
        ours = run_cardshield(cases)
        theirs, _ = run_spandsp(exe, [c.samples for c in cases])
        multimon = [run_multimon(_to_22050(c.samples))[0] for c in cases]

        stream = np.concatenate([c.samples for c in cases])
        audio_s = len(stream) / RATE
        ours_cpu = detection_cpu(stream, RATE)
        ours_cpu_20ms = detection_cpu(stream, 160)
        _, spandsp_cpu = run_spandsp(exe, [stream])
        _, multimon_cpu = run_multimon(_to_22050(stream))
        calls = 100 if args.quick else 500
        batched, single = masking_cpu(calls, 5.0 if args.quick else 10.0, stream)

    rows = {"cardshield": ours, "spandsp": theirs, "multimon-ng": multimon}
    scores = {name: summarise(cases, found) for name, found in rows.items()}
    rtf = {
        "cardshield": audio_s / ours_cpu,
        "spandsp": audio_s / spandsp_cpu,
        "multimon-ng": audio_s / multimon_cpu,
    }
    counts = {g: sum(c.group == g for c in cases) for g in ("accept", "reject", "talk-off")}
    print(
        f"corpus: {len(cases)} cases, {audio_s / 60:.1f} min "
        f"({counts['accept']} accept, {counts['reject']} reject, {counts['talk-off']} talk-off)"
    )
    print(
        f"{'detector':<12} {'accept ok':>10} {'reject ok':>10} {'talk-off ok':>12} "
        f"{'false digits':>13} {'x real time':>12}"
    )
    for name, s in scores.items():
        print(
            f"{name:<12} {s['accept_exact']:>10.1%} {s['reject_exact']:>10.1%} "
            f"{s['talk-off_exact']:>12.1%} {s['false_digits']:>13.0f} {rtf[name]:>12.0f}"
        )
    print(
        "accept cases missed by spandsp (defaults):",
        sorted(
            {
                c.name
                for c, f in zip(cases, theirs, strict=True)
                if c.group == "accept" and f != c.expected
            }
        ),
    )
    print(f"cardshield detection in 20 ms frames: {audio_s / ours_cpu_20ms:.0f}x real time")
    calls_per_core = 0.020 / batched * calls
    print(
        f"masking: {calls} calls per batch, {batched * 1e3:.2f} ms CPU per 20 ms frame "
        f"-> {calls_per_core:.0f} calls per core; one StreamMasker per call: "
        f"{0.020 / single:.0f} calls per core"
    )
    result = {
        "bench": "dtmf",
        "cases": len(cases),
        "audio_s": round(audio_s, 1),
        **{
            f"{k.replace('-', '')}_{n.replace('-', '')}": round(v, 4)
            for n, s in scores.items()
            for k, v in s.items()
        },
        "detect_x_realtime": round(rtf["cardshield"]),
        "detect_x_realtime_20ms_frames": round(audio_s / ours_cpu_20ms),
        "spandsp_x_realtime": round(rtf["spandsp"]),
        "multimon_x_realtime": round(rtf["multimon-ng"]),
        "speed_ratio_vs_spandsp": round(rtf["cardshield"] / rtf["spandsp"], 3),
        "speed_ratio_vs_multimon": round(rtf["cardshield"] / rtf["multimon-ng"], 3),
        "mask_calls_per_core": round(calls_per_core),
        "mask_calls_per_core_one_masker_per_call": round(0.020 / single),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
