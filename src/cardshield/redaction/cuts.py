"""From spoken card data to the stretch of audio cut: the digits, a small margin, no more.

:func:`.spans.card_runs` says which recognised words are card data; this module decides
where on the audio a cut starts and ends. A recogniser's word times are rough (a word's
length either way), so edges are snapped to the signal: from the middle of the first and
the last number word, the cut grows outwards through sound (dips shorter than
``bridge_ms`` are inside a word) until it meets a pause, and then takes ``margin_ms``
more. The prompt before the digits is separated from them by that pause (the caller waits
for the question to end), so it is kept, even on a mono recording where both speakers share
the channel; the words of a recognised prompt are a hard stop as well.

An edge that finds no pause within ``edge_ms`` of the words is *unsure*: the digits may run
on in speech the recogniser did not take as digits. Safety first: that edge grows on, up to
``unsure_ms`` or the next pause, and the cut is reported unsure with a lowered confidence.
Answers with fewer digits than their prompt asked for (:attr:`.spans.CardRun.sure`) are
unsure too. Parts of one number (groups read with pauses) are cut as one, and so are cuts on
one channel less than ``join_ms`` apart when only a pause lies between them: nothing said is
lost by joining them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cardshield.redaction.spans import TENS, CardRun, Reason, Word, pair_start

FRAME_MS = 10  # the activity frames of speech.activity
#: Confidence of an unsure cut is scaled by this: it says the cut was made for safety.
UNSURE_FACTOR = 0.5
#: Words that end a prompt phrase the recogniser decodes as one unit ("expiry date").
_PHRASE_ENDS = frozenset({"date", "code", "number"})


@dataclass(frozen=True)
class CutRules:
    margin_ms: int = 80  # beyond the pause-snapped edge of the digits
    edge_ms: int = 300  # how far from the words an edge looks for the pause
    bridge_ms: int = 120  # quieter stretches shorter than this are inside a word
    #: ... or, while the digits heard are fewer than the item has, this (0: ``bridge_ms``):
    #: on a speaker's own leg the missing digits may follow a comma's pause.
    missing_bridge_ms: int = 0
    unsure_ms: int = 1000  # how far an edge that found no pause grows on
    join_ms: int = 1000  # cuts this close, with only a pause between, are one


@dataclass(frozen=True)
class Cut:
    """A stretch of one channel to replace, in ms. Holds no digits."""

    channel: int
    start_ms: int
    end_ms: int
    confidence: float
    sure: bool
    basis: Reason


def _snap(
    active: NDArray[np.bool_], frame: int, step: int, limit: int, bridge: int, stop: int
) -> tuple[int, bool]:
    """Walk from ``frame`` in direction ``step`` through sound; the last sounding frame before
    a pause of ``bridge`` frames, and True. False (and the frame at ``limit``) when sound goes
    on that far. ``stop`` is a frame the walk may not pass (a prompt's word, the file's end)."""
    last = frame
    quiet = 0
    for k in range(1, limit + 1):
        g = frame + step * k
        if g < 0 or g >= len(active) or (g - stop) * step > 0:
            return last, True
        if active[g]:
            quiet, last = 0, g
        else:
            quiet += 1
            if quiet >= bridge:
                return last, True
    return frame + step * limit, False


def _edge(
    active: NDArray[np.bool_], word: Word, step: int, stop: int, rules: CutRules, missing: int
) -> tuple[int, bool]:
    """One edge of a cut (ms) from the outermost word, and whether a pause was found.

    ``missing``: how many digits the item has beyond those heard. While some are missing
    the walk bridges the longer pauses of ``missing_bridge_ms`` (the rest may follow a
    comma); with every digit heard the first pause is the edge, and the next sentence after
    it is kept. So is it on the right when the sound between the last word heard and that
    pause is long enough to hold the missing digits (``DIGIT_MS`` each): they were said
    there, unrecognised ("seven three [four]"), and what follows the pause is the next
    sentence ("yes, that is right")."""
    mid = (word.start + word.end) // 2 // FRAME_MS
    reach = abs((word.start if step < 0 else word.end) // FRAME_MS - mid)
    limit = reach + rules.edge_ms // FRAME_MS
    narrow = max(rules.bridge_ms // FRAME_MS, 1)
    bridge = narrow
    if missing and rules.missing_bridge_ms > rules.bridge_ms:
        bridge = rules.missing_bridge_ms // FRAME_MS
        if step > 0:
            reach_all = limit + rules.unsure_ms // FRAME_MS  # as far as the edge may go
            first, found = _snap(active, mid, step, reach_all, narrow, stop)
            unheard = (first + 1) * FRAME_MS - word.end
            if found and unheard >= missing * DIGIT_MS:
                bridge = narrow
    frame, found = _snap(active, mid, step, limit, bridge, stop)
    if not found:
        frame, found = _snap(active, frame, step, rules.unsure_ms // FRAME_MS, bridge, stop)
        found = False  # the words ran into talk with no pause: the edge is a guess
    outer = frame + (1 if step > 0 else 0)  # one past the last frame on the right
    return outer * FRAME_MS, found


def guard_words(words: Sequence[Word], prompt_ends: Sequence[Word]) -> list[Word]:
    """The recognised words of each prompt (the prompt word, the word of its phrase right
    after it, and the first word of a pair such as "card" of "card number"): a cut never
    reaches into them."""
    out = list(prompt_ends)
    ordered = sorted(words, key=lambda w: (w.start, w.end))
    for i, word in enumerate(ordered):
        if word not in prompt_ends:
            continue
        if i + 1 < len(ordered):
            nxt = ordered[i + 1]
            if nxt.text in _PHRASE_ENDS and nxt.channel == word.channel and nxt.start == word.end:
                out.append(nxt)
        out.extend(prev for prev in ordered[max(0, i - 2) : i] if pair_start(prev, word))
    return out


#: Digits an item has at the least, to tell a reading with digits missing from a whole one.
_ITEM_DIGITS: dict[Reason, int] = {"pan": 15, "number": 15, "expiry": 4, "code": 3}


#: How long one digit word takes at the least, said fast ("six" at 190 words a minute).
DIGIT_MS = 200


def _missing(parts: Sequence[CardRun]) -> int:
    """How many digits the item has beyond those heard (one at the least for a reading that
    ends on a tens word, whose unit may be the word the recogniser missed: "twenty" of
    "twenty nine"); 0 when none are missing."""
    heard = sum(len(run.digits) for run in parts)
    last = max((w for run in parts for w in run.words), key=lambda w: w.end)
    short = max(_ITEM_DIGITS[parts[0].reason] - heard, 0)
    return max(short, 1) if last.text in TENS else short


def speech_cuts(
    runs: Sequence[CardRun],
    active: Sequence[NDArray[np.bool_]],
    guards: Sequence[Word],
    rules: CutRules,
) -> list[Cut]:
    """One cut per number (a chain of runs on one channel), joined across pauses."""
    chains: dict[tuple[int, int], list[CardRun]] = {}
    for run in runs:
        chains.setdefault((run.channel, run.chain), []).append(run)
    cuts: list[Cut] = []
    for (channel, _chain), parts in chains.items():
        words = sorted((w for run in parts for w in run.words), key=lambda w: w.start)
        first, last = words[0], words[-1]
        on_channel = [g for g in guards if g.channel == channel]
        before = [g.end for g in on_channel if g.end <= first.start]
        after = [g.start for g in on_channel if g.start >= last.end]
        lo_stop = max(before) // FRAME_MS if before else -1
        hi_stop = (min(after) // FRAME_MS - 1) if after else len(active[channel])
        missing = _missing(parts)
        start, sure_start = _edge(active[channel], first, -1, lo_stop, rules, missing)
        end, sure_end = _edge(active[channel], last, 1, hi_stop, rules, missing)
        spoken = sum(w.end - w.start for w in words)
        confidence = min(1.0, spoken / max(last.end - first.start, 1))
        sure = sure_start and sure_end and all(run.sure for run in parts)
        if not sure:
            confidence *= UNSURE_FACTOR
        margin = rules.margin_ms
        cuts.append(
            Cut(
                channel,
                max(start - margin, 0),
                end + margin,
                round(confidence, 2),
                sure,
                parts[0].reason,
            )
        )
    return join(cuts, active, rules)


def _quiet_between(active: NDArray[np.bool_], a_ms: int, b_ms: int, bridge: int) -> bool:
    """No sound of a word's length (``bridge`` frames or more in a row) between two times."""
    span = active[max(a_ms // FRAME_MS, 0) : max(b_ms // FRAME_MS, 0)]
    run = 0
    for on in span:
        run = run + 1 if on else 0
        if run >= bridge:
            return False
    return True


def join(cuts: list[Cut], active: Sequence[NDArray[np.bool_]], rules: CutRules) -> list[Cut]:
    """Overlapping cuts of one channel joined, and near ones with only a pause between."""
    out: list[Cut] = []
    bridge = max(max(rules.bridge_ms, rules.missing_bridge_ms) // FRAME_MS, 1)
    for cut in sorted(cuts, key=lambda c: (c.channel, c.start_ms)):
        last = out[-1] if out else None
        if last is not None and last.channel == cut.channel:
            gap = cut.start_ms - last.end_ms
            quiet = gap < rules.join_ms and _quiet_between(
                active[cut.channel], last.end_ms, cut.start_ms, bridge
            )
            if gap <= 0 or quiet:
                out[-1] = Cut(
                    cut.channel,
                    last.start_ms,
                    max(last.end_ms, cut.end_ms),
                    min(last.confidence, cut.confidence),
                    last.sure and cut.sure,
                    last.basis,
                )
                continue
        out.append(cut)
    return out


__all__ = ["Cut", "CutRules", "guard_words", "join", "speech_cuts"]
