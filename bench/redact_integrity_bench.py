"""Recording redaction integrity: card spans silenced beside ordinary speech kept bit-exact.

Calls come from :mod:`redact_varied_calls` (voices, speeds, prompt phrasings, sentence order,
card answered by voice or keypad, card mentions with no card data after them, ordinary
numbers), each redacted twice: stereo (one leg per channel) and mixed down to mono, 8 kHz
mu-law like a call recorder writes. Per sentence, from the exact ground truth:

* card-span recall: a card sentence (spoken digits or keyed tones) counts as silenced when
  every sample of it lies inside a reported segment on its channel (and so was replaced);
* keep-span integrity: the share of a non-card sentence's samples that are the input's, bit
  for bit; the goal is at least 98% for every one of them, prompts included.

Run: ``python bench/redact_integrity_bench.py [--quick] [--calls N]``. The last line is one
JSON object.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from redact_varied_calls import VariedCall, render  # noqa: E402

from cardshield.phone.dsp import Audio  # noqa: E402
from cardshield.redaction.audio import RedactOptions, redact_audio  # noqa: E402
from cardshield.redaction.speech import shared_recognizer  # noqa: E402

KEEP_GOAL = 0.98


def measure(call: VariedCall, mono: bool) -> list[dict[str, object]]:
    """One row per sentence: its kind, and the share kept (non-card) or cut (card)."""
    samples = call.mono() if mono else call.samples
    audio = Audio.from_linear(samples, call.rate, "mulaw")
    result = redact_audio(audio, RedactOptions(), shared_recognizer())
    same = result.audio.data == audio.data
    cut = np.zeros(audio.data.shape, dtype=bool)
    for seg in result.segments:
        a, b = seg.start_ms * call.rate // 1000, -(-seg.end_ms * call.rate // 1000)
        cut[a:b, seg.channel] = True
    rows: list[dict[str, object]] = []
    for placed in call.sentences:
        ch = 0 if mono else placed.sentence.speaker
        sl = slice(placed.first, placed.end)
        card = placed.sentence.kind in ("card", "keyed")
        rows.append(
            {
                "kind": placed.sentence.kind,
                "card": card,
                "text": placed.sentence.text or "(keyed)",
                "cut": float(cut[sl, ch].mean()),
                "kept": float(same[sl, ch].mean()),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 calls instead of 12")
    parser.add_argument("--calls", type=int, default=0, help="number of calls")
    parser.add_argument("--seed", type=int, default=1, help="first call seed")
    parser.add_argument("--verbose", action="store_true", help="print every damaged sentence")
    args = parser.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is required (make system-deps)")
    n = args.calls or (4 if args.quick else 12)
    shared_recognizer()
    rows: dict[str, list[dict[str, object]]] = defaultdict(list)
    damaged: list[str] = []
    with tempfile.TemporaryDirectory(prefix="redact-integrity-") as tmp:
        for seed in range(args.seed, args.seed + n):
            call = render(seed, Path(tmp))
            for layout in ("stereo", "mono"):
                for row in measure(call, layout == "mono"):
                    rows[layout].append(row)
                    bad = row["cut"] < 1.0 if row["card"] else float(str(row["kept"])) < KEEP_GOAL
                    if bad:
                        share = row["cut"] if row["card"] else row["kept"]
                        damaged.append(
                            f"  call {seed} {layout} [{row['kind']}] {share:.0%}: {row['text']}"
                            f"  ({call.label})"
                        )
    figures: dict[str, object] = {"bench": "redact_integrity", "calls": n}
    print(f"{n} generated calls, each redacted as stereo and as mono (8 kHz mu-law)")
    header = f"{'layout':<8}{'kind':<10}{'sentences':>10}{'goal met':>10}{'worst':>8}{'mean':>8}"
    print(header)
    for layout, found in rows.items():
        card = [float(str(r["cut"])) for r in found if r["card"]]
        keep = [float(str(r["kept"])) for r in found if not r["card"]]
        recall = sum(c >= 1.0 for c in card) / max(len(card), 1)
        integrity = sum(k >= KEEP_GOAL for k in keep) / max(len(keep), 1)
        for kind in ("card", "keyed", "prompt", "mention", "numbers", "ordinary"):
            sel = [r for r in found if r["kind"] == kind]
            if not sel:
                continue
            key = "cut" if kind in ("card", "keyed") else "kept"
            vals = [float(str(r[key])) for r in sel]
            met = sum(v >= (1.0 if key == "cut" else KEEP_GOAL) for v in vals)
            print(
                f"{layout:<8}{kind:<10}{len(sel):>10}{met:>10}"
                f"{min(vals):>8.1%}{sum(vals) / len(vals):>8.1%}"
            )
        figures[layout] = {
            "card_spans": len(card),
            "card_recall": round(recall, 4),
            "card_cut_mean": round(sum(card) / max(len(card), 1), 4),
            "keep_spans": len(keep),
            "keep_integrity": round(integrity, 4),
            "keep_worst": round(min(keep, default=1.0), 4),
            "keep_damaged": sum(k < KEEP_GOAL for k in keep),
        }
    print(f"goal: card sentences 100% cut; non-card sentences >= {KEEP_GOAL:.0%} bit-exact")
    if damaged:
        print(f"{len(damaged)} sentence(s) short of the goal:")
        print("\n".join(damaged if args.verbose else damaged[:20]))
    stereo, mono = figures.get("stereo", {}), figures.get("mono", {})
    assert isinstance(stereo, dict)
    assert isinstance(mono, dict)
    figures["ratio"] = round(
        min(stereo.get("keep_integrity", 0.0), mono.get("keep_integrity", 0.0)), 4
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
