"""Spoken card data in a stream of words: the rules recordings and transcripts share.

Words come with positions on one axis (milliseconds for recognised speech, word indexes for
text), so the same rules serve both:

* Number words ("zero".."nine", "oh", "double four", "twenty eight", "seven hundred") and
  digit groups ("4111") make *runs*: number words no further apart than ``max_gap``; filler
  words ("uh", "um") are dropped by the caller before the rules see the stream.
* A run that spells 12 or more digits is a card number (``"pan"``), and so are runs read out
  in groups: runs of three digits or more said without gaps, each within ``chain_gap`` of
  the one before, that together spell 12 or more.
* A run that follows a *prompt* is card data whatever its length: a card number
  ("card number"), an expiry ("expiry", "expiration", "expires") or a security code
  ("security code", "security", "verification", "CVV", "CVC"). "card" counts only with
  "number" right after it: an order number is no prompt. "security" counts alone: a
  recogniser often misses the short "code" after it, and a number said right after
  "security" is a security code or a social security number, neither fit to keep. The
  first run within ``prompt_window`` of the prompt qualifies, and so does each next part of
  two digits or more, said without gaps, within ``chain_gap`` of the one before.

A prompt can come from another speaker (the agent asks, the caller answers): callers merge
the prompt words of every channel and keep runs per channel. Nothing here keeps or prints
digits except :attr:`CardRun.digits`, whose ``repr`` is hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Reason = Literal["pan", "number", "expiry", "code"]

UNITS: dict[str, str] = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
TEENS: dict[str, str] = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
TENS: dict[str, str] = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
REPEATS: dict[str, int] = {"double": 2, "triple": 3}
HUNDRED = "hundred"
NUMBER_WORDS: frozenset[str] = frozenset(
    [*UNITS, *TEENS, *TENS, *REPEATS, HUNDRED],
)
FILLERS: frozenset[str] = frozenset({"uh", "um", "er", "erm", "ah", "hmm", "mm"})

#: Single words that open a prompt, and what they ask for.
PROMPT_WORDS: dict[str, Reason] = {
    "expiry": "expiry",
    "expiration": "expiry",
    "expires": "expiry",
    "security": "code",
    "verification": "code",
    "cvv": "code",
    "cvc": "code",
    "cv2": "code",
    "csc": "code",
}
#: Pairs that open a prompt only together: an order number is no card data.
PROMPT_PAIRS: dict[tuple[str, str], Reason] = {
    ("card", "number"): "number",
}
#: Words that belong to the vocabulary of prompts (what a recogniser must know).
PROMPT_VOCABULARY: frozenset[str] = frozenset(
    {*PROMPT_WORDS, *(w for pair in PROMPT_PAIRS for w in pair), "code", "date"},
)
PAN_DIGITS = 12
#: A part of a number read out in groups has at least this many digits ("four two four two");
#: one or two stray number words are ordinary talk.
GROUP_DIGITS = 3
#: ... said without gaps: stray number words heard in ordinary talk are spread out.
GROUP_COVERAGE = 0.7


@dataclass(frozen=True, slots=True)
class Word:
    """One word (lower case) at ``start``..``end`` on the stream's axis, on ``channel``."""

    text: str
    start: int
    end: int
    channel: int = 0


@dataclass(frozen=True, slots=True)
class CardRun:
    """A run of number words found to be card data. ``repr`` hides the digits."""

    words: tuple[Word, ...]
    reason: Reason
    digits: str = field(repr=False)

    @property
    def start(self) -> int:
        return self.words[0].start

    @property
    def end(self) -> int:
        return self.words[-1].end

    @property
    def channel(self) -> int:
        return self.words[0].channel


def is_number_word(text: str) -> bool:
    return text in NUMBER_WORDS or (text.isascii() and text.isdigit())


def spell_digits(words: Sequence[str]) -> str:
    """The digit string a sequence of number words spells ("double four" -> "44").

    Tens and "hundred" leave trailing zeros that the next words may fill: "twenty eight" is
    28, "seven hundred thirty seven" 737, "twenty twenty eight" 2028.
    """
    out: list[str] = []
    slots = 0  # trailing zeros the next word may overwrite
    repeat = 1
    for word in words:
        if word in REPEATS:
            repeat = REPEATS[word]
            continue
        if word in UNITS:
            digit = UNITS[word]
            if slots and repeat == 1 and digit != "0":
                out[-1] = digit
            else:
                out.extend(digit * repeat)
            slots = 0
        elif word in TEENS:
            if slots == 2:
                out[-2:] = TEENS[word]
            else:
                out.extend(TEENS[word])
            slots = 0
        elif word in TENS:
            if slots == 2:
                out[-2:] = [TENS[word], "0"]
            else:
                out.extend([TENS[word], "0"])
            slots = 1
        elif word == HUNDRED:
            if out:
                out.extend("00")
                slots = 2
        elif word.isascii() and word.isdigit():
            out.extend(word)
            slots = 0
        repeat = 1
    return "".join(out)


def number_runs(words: Sequence[Word], max_gap: int) -> list[tuple[Word, ...]]:
    """Maximal runs of number words on one channel, consecutive ones ``max_gap`` apart at most.

    ``words`` are in order; any other word ends a run.
    """
    runs: list[tuple[Word, ...]] = []
    current: list[Word] = []
    for word in words:
        if not is_number_word(word.text):
            if current:
                runs.append(tuple(current))
                current = []
            continue
        if current and (
            word.start - current[-1].end > max_gap or word.channel != current[-1].channel
        ):
            runs.append(tuple(current))
            current = []
        current.append(word)
    if current:
        runs.append(tuple(current))
    # A run that is only "double" or "hundred" spells nothing.
    return [run for run in runs if spell_digits([w.text for w in run])]


def prompts(words: Sequence[Word], pair_gap: int) -> list[tuple[Word, Reason]]:
    """The last word and the reason of every prompt in ``words`` (all channels, in order)."""
    found: list[tuple[Word, Reason]] = []
    for i, word in enumerate(words):
        if word.text in PROMPT_WORDS:
            found.append((word, PROMPT_WORDS[word.text]))
            continue
        for nxt in words[i + 1 : i + 3]:  # "card number", "card's number", "card long number"
            reason = PROMPT_PAIRS.get((word.text, nxt.text))
            near = nxt.start - word.end <= pair_gap and nxt.channel == word.channel
            if reason is not None and near:
                found.append((nxt, reason))
                break
    return found


def _answers(runs: list[tuple[Word, ...]], prompt: Word, window: int, chain: int) -> list[int]:
    """Indexes of the runs that answer ``prompt``: the first run within ``window`` after it,
    and each next part of the answer (:func:`_answer_part`) on the same channel within ``chain``
    of the one before.

    With several channels the answer comes from another speaker when one speaks within the
    window: what follows a question on the asker's own channel is the rest of the question.
    """
    after = [i for i, run in enumerate(runs) if run[-1].end > prompt.end]
    near = [i for i in after if runs[i][0].start - prompt.end <= window]
    if not near:
        return []
    others = [i for i in near if runs[i][0].channel != prompt.channel]
    first = others[0] if others else near[0]
    channel = runs[first][0].channel
    chosen, last = [first], runs[first][-1].end
    for i in after:
        if i <= first or runs[i][0].channel != channel:
            continue
        if runs[i][0].start - last > chain or not _answer_part(runs[i]):
            break
        chosen.append(i)
        last = runs[i][-1].end
    return chosen


def _digits(run: tuple[Word, ...]) -> str:
    return spell_digits([w.text for w in run])


def coverage(run: tuple[Word, ...]) -> float:
    """Share of the run's extent its words take up (1.0 for words next to each other)."""
    return sum(w.end - w.start for w in run) / max(run[-1].end - run[0].start, 1)


def _group_part(run: tuple[Word, ...]) -> bool:
    """A part of a number read out in groups: three digits or more, said without gaps."""
    return len(_digits(run)) >= GROUP_DIGITS and coverage(run) >= GROUP_COVERAGE


def _answer_part(run: tuple[Word, ...]) -> bool:
    """A further part of an answer ("oh nine ... twenty eight"): two digits or more, said
    without gaps; stray number words heard in the talk that follows are not."""
    return len(_digits(run)) >= 2 and coverage(run) >= GROUP_COVERAGE


def _groups(runs: list[tuple[Word, ...]], chain: int) -> list[list[int]]:
    """Runs read out as parts of one number: on one channel, each a group part (the last may
    be shorter once eight digits are in), each starting within ``chain`` of the one before
    (a run stands alone otherwise)."""
    groups: list[list[int]] = []
    open_by_channel: dict[int, list[int]] = {}
    for i, run in enumerate(runs):
        channel = run[0].channel
        current = open_by_channel.get(channel)
        if current is not None:
            prev = runs[current[-1]]
            so_far = sum(len(_digits(runs[j])) for j in current)
            # The last group of a number may be short (4-4-4-2, 4-6-4 ...).
            fits = _group_part(run) or (
                so_far >= 2 * GROUP_DIGITS + 2 and coverage(run) >= GROUP_COVERAGE
            )
            if _group_part(prev) and fits and run[0].start - prev[-1].end <= chain:
                current.append(i)
                continue
        current = [i]
        groups.append(current)
        open_by_channel[channel] = current
    return groups


def card_runs(
    words: Sequence[Word],
    *,
    max_gap: int,
    prompt_window: int,
    chain_gap: int | None = None,
    pair_gap: int | None = None,
    min_pan_digits: int = PAN_DIGITS,
    pan_check: Callable[[tuple[Word, ...], str], bool] | None = None,
) -> list[CardRun]:
    """Every run of card data in ``words`` (sorted by start; channels may interleave).

    ``chain_gap`` (default ``prompt_window``) is how far the next part of a number read out
    in groups (runs of three digits or more) may start; ``pair_gap`` how far "number" may
    follow "card". ``pan_check(words, digits)``
    may veto the length rule for a run (it can still qualify through a prompt).
    """
    chain = prompt_window if chain_gap is None else chain_gap
    ordered = sorted(words, key=lambda w: (w.start, w.end))
    by_channel: dict[int, list[Word]] = {}
    for word in ordered:
        by_channel.setdefault(word.channel, []).append(word)
    runs = [run for chan in by_channel.values() for run in number_runs(chan, max_gap)]
    runs.sort(key=lambda r: r[0].start)
    opened = prompts(ordered, prompt_window if pair_gap is None else pair_gap)
    chosen: dict[int, CardRun] = {}
    for group in _groups(runs, chain):
        digits = "".join(_digits(runs[i]) for i in group)
        joined = tuple(w for i in group for w in runs[i])
        if len(digits) >= min_pan_digits and (pan_check is None or pan_check(joined, digits)):
            for i in group:
                chosen[i] = CardRun(runs[i], "pan", _digits(runs[i]))
    for prompt, reason in opened:
        for i in _answers(runs, prompt, prompt_window, chain):
            if i not in chosen:
                chosen[i] = CardRun(runs[i], reason, _digits(runs[i]))
    return [chosen[i] for i in sorted(chosen)]


__all__ = [
    "FILLERS",
    "NUMBER_WORDS",
    "PROMPT_VOCABULARY",
    "PROMPT_WORDS",
    "CardRun",
    "Reason",
    "Word",
    "card_runs",
    "is_number_word",
    "number_runs",
    "prompts",
    "spell_digits",
]
