"""Text redaction throughput: cardshield's redact() against a bare digit-run regex floor.

Generates realistic log lines (timestamps, ids, amounts, sparse card numbers in several
formats), then times, on the same lines in the same process:
  * baseline: one pass of a plain 12-19 digit regex (what a naive scrubber does, no Luhn,
    no brand table, no separators, no CVV or track rules);
  * cardshield: redaction.text.redact() line by line.
Prints a table and, last, one JSON line with both throughputs and their ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time

from cardshield.cards import TEST_CARDS
from cardshield.redaction.text import redact


def make_lines(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    cards = [c.number for c in TEST_CARDS]
    lines = []
    for i in range(n):
        ts = 1732650000000 + i * 17
        base = (
            f"2026-11-26T21:{i % 60:02d}:{i % 59:02d}.{i % 1000:03d}Z INFO "
            f"req={rng.getrandbits(64):x} user={rng.randrange(10**6)} "
            f"order={rng.randrange(10**9)} amount={rng.randrange(10**5) / 100} "
            f"ts={ts} path=/v1/payments/{rng.getrandbits(32):08x} status=200"
        )
        if rng.random() < 0.01:
            pan = rng.choice(cards)
            style = rng.randrange(3)
            shown = pan if style == 0 else " ".join(pan[k : k + 4] for k in range(0, len(pan), 4))
            base += f" card={shown}" if style < 2 else f' body={{"number": "{pan}", "cvc": "123"}}'
        lines.append(base + "\n")
    return lines


def timed(fn, lines: list[str]) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for line in lines:
        fn(line)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run")
    args = parser.parse_args()
    lines = make_lines(20_000 if args.quick else 200_000)
    megabytes = sum(len(line) for line in lines) / 1e6
    naive = re.compile(r"(?<![0-9])[0-9]{12,19}(?![0-9])")
    base_s = timed(naive.findall, lines)
    ours_s = timed(redact, lines)
    base_mb_s, ours_mb_s = megabytes / base_s, megabytes / ours_s
    print(f"{'lines':>10} {len(lines):>12,}   ({megabytes:.1f} MB)")
    print(f"{'baseline':>10} {base_mb_s:>10.1f} MB/s   plain 12-19 digit regex, one pass")
    print(f"{'redact()':>10} {ours_mb_s:>10.1f} MB/s   cardshield text redaction")
    print(f"{'ratio':>10} {ours_mb_s / base_mb_s:>12.2f}   redact / baseline")
    print(
        json.dumps(
            {
                "bench": "text_redaction",
                "megabytes": round(megabytes, 1),
                "redact_mb_per_s": round(ours_mb_s, 1),
                "bare_regex_mb_per_s": round(base_mb_s, 1),
                "ratio": round(ours_mb_s / base_mb_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
