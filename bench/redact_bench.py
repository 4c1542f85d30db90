"""Recording redaction benchmark: real-time factor, DTMF only beside DTMF + speech, 1 and 2 cores.

The corpus is generated here: scripted calls (espeak-ng voices for agent and caller, one per
channel, through sox) with a card read out and keyed, and ordinary calls without card data,
as 8 kHz mu-law stereo WAV files like a call recorder writes. Measured:

* one core, in process: CPU seconds to redact every call with DTMF detection only, and with
  DTMF detection plus speech recognition; as "x real time" (audio seconds per CPU second);
* batch mode (``cardshield redact audio DIR --out DIR2``'s engine, with speech) over the
  same files with one worker and with two: wall time, and the speed-up of two over one;
  beside it the speed-up the same pool gets on plain CPU work, which shows how much of a
  second core the machine really has free at the time;
* recognition: for six voice pairs (numbered espeak-ng variants, none of them in the corpus
  the telephone-band model was adapted on), at 8 kHz and at 16 kHz, how many of the spoken
  card lines (card number, expiry, security code) end up silent, and how many ordinary calls
  stay untouched (no span longer than the padding), with the shipped telephone-band model
  beside the wheel's wideband model as the baseline (same rules, same calls).

Run: ``python bench/redact_bench.py [--quick]``. The last line is one JSON object.
"""

from __future__ import annotations

import os

# One core per process: numpy's BLAS must not spread the work over threads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the call generator is shared with the tests

from tests.unit.redaction.audio.calls import (  # noqa: E402
    card_script,
    make_call,
    negative_script,
    words_for,
)

from cardshield.phone.dsp import Audio, read_wav, write_wav  # noqa: E402
from cardshield.redaction.audio import RedactOptions, redact_audio  # noqa: E402
from cardshield.redaction.batch import run_batch  # noqa: E402
from cardshield.redaction.speech import (  # noqa: E402
    SpeechConfig,
    SphinxRecognizer,
    shared_recognizer,
)

VOICES = (
    ("en-us+m3", "en-gb+f2"),
    ("en-us+f2", "en-us+m7"),
    ("en-gb+m1", "en-us+m2"),
    ("en-us+f1", "en-us-nyc+m4"),
)
PAN, CVV = "4242424242424242", "737"
ACCURACY_VOICES = (
    ("en-us+m3", "en-gb+f2"),
    ("en-us+f2", "en-us+m7"),
    ("en-gb+m1", "en-us+f4"),
    ("en-gb-x-rp+m2", "en-us+m5"),
    ("en-us+f3", "en-gb+m4"),
    ("en-029+m1", "en-us+f1"),
)
NOISE_RMS = 32768 * 10 ** (-60 / 20)  # the generated calls' line noise
KINDS = ("card number", "expiry", "code")


def line_silent(out: Audio, channel: int, first: int, end: int) -> bool:
    """Every 20 ms frame of the line is below three times the line noise."""
    x = out.linear()[first:end, channel].astype(float)
    step = out.sample_rate // 50
    frames = x[: len(x) - len(x) % step].reshape(-1, step)
    return float(((frames**2).mean(axis=1) ** 0.5).max()) < 3 * NOISE_RMS


def recognition(cache: Path, pairs: tuple[tuple[str, str], ...]) -> dict[str, dict[str, int]]:
    """Card lines silenced and ordinary calls untouched, per rate and model."""
    options = RedactOptions()
    models = {
        "telephone": SphinxRecognizer(),
        "wideband": SphinxRecognizer(SpeechConfig(wideband=True)),
    }
    script = card_script(words_for(PAN), "oh nine, twenty eight", words_for(CVV), PAN)
    spoken = [i for i, line in enumerate(script) if line.card and not line.keyed]
    out: dict[str, dict[str, int]] = {}
    for rate in (8000, 16000):
        for name, recognizer in models.items():
            counts = dict.fromkeys([*KINDS, "ordinary untouched"], 0)
            for pair in pairs:
                call = make_call(script, pair, cache, rate=rate)
                audio = Audio.from_linear(call.samples, rate, "mulaw")
                result = redact_audio(audio, options, recognizer)
                for kind, i in zip(KINDS, spoken, strict=True):
                    line, first, end = call.lines[i]
                    counts[kind] += line_silent(result.audio, line.speaker, first, end)
                plain = make_call(negative_script(), pair, cache, rate=rate)
                result = redact_audio(
                    Audio.from_linear(plain.samples, rate, "mulaw"), options, recognizer
                )
                longest = max((s.end_ms - s.start_ms for s in result.segments), default=0)
                counts["ordinary untouched"] += longest <= options.padding_ms
            out[f"{rate}/{name}"] = counts
    return out


def corpus(workdir: Path, calls: int) -> list[Path]:
    cache = workdir / "speech"
    cache.mkdir()
    files = []
    for i in range(calls):
        voices = VOICES[i % len(VOICES)]
        if i % 2 == 0:
            script = card_script(words_for(PAN), "oh nine, twenty eight", words_for(CVV), PAN)
        else:
            script = negative_script()
        call = make_call(script, voices, cache, rate=8000, seed=i)
        path = workdir / "calls" / f"call{i:03d}.wav"
        path.parent.mkdir(exist_ok=True)
        write_wav(path, Audio.from_linear(call.samples, 8000, "mulaw"))
        files.append(path)
    return files


def one_core(audios: list[Audio], speech: bool) -> float:
    """CPU seconds to redact every call in this process."""
    options = RedactOptions(speech=speech)
    recognizer = shared_recognizer() if speech else None
    start = time.process_time()
    for audio in audios:
        redact_audio(audio, options, recognizer)
    return time.process_time() - start


def batch(source: Path, out: Path, jobs: int) -> float:
    """Wall seconds for the batch engine with ``jobs`` workers (speech on)."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    report = run_batch(source, out, RedactOptions(), jobs=jobs)
    elapsed = time.perf_counter() - start
    if report.failed:
        raise SystemExit("a call failed to redact")
    return elapsed


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def pool_control(jobs: int, tasks: int = 8, n: int = 3_000_000) -> float:
    """Wall seconds for plain CPU work in the same kind of pool: what the machine gives."""
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_spin, [n] * tasks))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small corpus")
    args = parser.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is required (make system-deps)")
    calls = 4 if args.quick else 12
    pairs = ACCURACY_VOICES[:2] if args.quick else ACCURACY_VOICES
    with tempfile.TemporaryDirectory(prefix="redact-bench-") as tmp:
        work = Path(tmp)
        files = corpus(work, calls)
        heard = recognition(work / "speech", pairs)
        audios = [read_wav(p) for p in files]
        audio_s = sum(a.frames / a.sample_rate for a in audios)
        shared_recognizer()  # model load is not part of the per-call cost
        dtmf_cpu = one_core(audios, speech=False)
        speech_cpu = one_core(audios, speech=True)
        wall_1 = batch(work / "calls", work / "out1", jobs=1)
        wall_2 = batch(work / "calls", work / "out2", jobs=2)
        control = pool_control(1) / pool_control(2)
    rows = [
        ("one core, DTMF only (CPU s)", dtmf_cpu, audio_s / dtmf_cpu),
        ("one core, DTMF + speech (CPU s)", speech_cpu, audio_s / speech_cpu),
        ("batch, 1 worker (wall s)", wall_1, audio_s / wall_1),
        ("batch, 2 workers (wall s)", wall_2, audio_s / wall_2),
    ]
    print(f"{calls} calls, {audio_s:.0f} s of 8 kHz mu-law stereo audio")
    print(f"plain CPU work, 2 workers over 1: {control:.2f}x (what this machine gives now)")
    print(f"{'mode':<34}{'seconds':>10}{'x real time':>14}")
    for name, seconds, speed in rows:
        print(f"{name:<34}{seconds:>10.2f}{speed:>14.1f}")
    print(f"\nspoken card lines silenced, ordinary calls untouched ({len(pairs)} voice pairs)")
    header = f"{'rate / model':<20}" + "".join(f"{k:>20}" for k in heard[next(iter(heard))])
    print(header)
    for key, counts in heard.items():
        print(f"{key:<20}" + "".join(f"{f'{n}/{len(pairs)}':>20}" for n in counts.values()))
    figures = {
        "bench": "redact",
        "calls": calls,
        "audio_s": round(audio_s, 1),
        "dtmf_only_x_realtime": round(audio_s / dtmf_cpu, 1),
        "dtmf_speech_x_realtime": round(audio_s / speech_cpu, 1),
        "speech_cost_ratio": round(speech_cpu / dtmf_cpu, 2),
        "batch_1_worker_x_realtime": round(audio_s / wall_1, 1),
        "batch_2_workers_x_realtime": round(audio_s / wall_2, 1),
        "batch_speedup_2_vs_1": round(wall_1 / wall_2, 2),
        "control_speedup_2_vs_1": round(control, 2),
        "recognition_pairs": len(pairs),
        "recognition": heard,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
