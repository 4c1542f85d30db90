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
  "number" right after it, or "number" with "card" a few words later ("the long number on
  the front of the card"): an order number is no prompt. "security" counts alone: a
  recogniser often misses the short "code" after it, and a number said right after
  "security" is a security code or a social security number, neither fit to keep. The
  first run within ``prompt_window`` of the prompt qualifies, and so does each next part of
  two digits or more, said without gaps, within ``chain_gap`` of the one before.

A prompt can come from another speaker (the agent asks, the caller answers): callers merge
the prompt words of every channel and keep runs per channel. Nothing here keeps or prints
digits except :attr:`CardRun.digits`, whose ``repr`` is hidden.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

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
#: Pairs said the other way round, with more words between ("the long number on the front
#: of the card"): the second word may come up to :data:`FAR_PAIR_FACTOR` pair gaps later.
FAR_PROMPT_PAIRS: dict[tuple[str, str], Reason] = {
    ("number", "card"): "number",
}
FAR_PAIR_FACTOR = 3
#: "<word> number" names a number that is no card data ("my phone number is ..."): digits
#: its speaker says right after it are that number, not the answer to a card prompt.
OTHER_NUMBERS: frozenset[str] = frozenset({"phone", "order", "reference", "tracking"})
OTHER_PAIRS: frozenset[tuple[str, str]] = frozenset((w, "number") for w in OTHER_NUMBERS)
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
    """A run of number words found to be card data. ``repr`` hides the digits.

    ``sure`` is False for an answer with fewer digits than its prompt asked for (the
    recogniser may have missed some): still card data, cut, and reported as unsure. Runs
    with the same ``chain`` are parts of one number (groups read with pauses, the parts of
    one answer): whatever lies between them is cut with them.
    """

    words: tuple[Word, ...]
    reason: Reason
    digits: str = field(repr=False)
    sure: bool = True
    chain: int = 0

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


def _flanked(words: list[Word], heard_as: Mapping[str, str] | None, max_gap: int) -> list[Word]:
    """``words`` of one channel with each word of ``heard_as`` that lies between two number
    words (each at most ``max_gap`` away) replaced by the number word it stands for."""
    if not heard_as:
        return words
    out = list(words)
    for i in range(1, len(words) - 1):
        word, prev, nxt = words[i], words[i - 1], words[i + 1]
        flanked = is_number_word(prev.text) and is_number_word(nxt.text)
        if word.text not in heard_as or not flanked:
            continue
        if word.start - prev.end <= max_gap and nxt.start - word.end <= max_gap:
            out[i] = Word(heard_as[word.text], word.start, word.end, word.channel)
    return out


def prompts(words: Sequence[Word], pair_gap: int) -> list[tuple[Word, Reason]]:
    """The last word and the reason of every prompt in ``words`` (all channels, in order)."""
    found: list[tuple[Word, Reason]] = []
    for i, word in enumerate(words):
        if word.text in PROMPT_WORDS:
            found.append((word, PROMPT_WORDS[word.text]))
            continue
        if i and (words[i - 1].text, word.text) in OTHER_PAIRS:
            continue  # the "number" of "phone number" opens no "number ... card"
        for nxt in words[i + 1 : i + 3]:  # "card number", "card's number", "card long number"
            pair = (word.text, nxt.text)
            reason = PROMPT_PAIRS.get(pair) or FAR_PROMPT_PAIRS.get(pair)
            gap = pair_gap * (FAR_PAIR_FACTOR if pair in FAR_PROMPT_PAIRS else 1)
            near = nxt.start - word.end <= gap and nxt.channel == word.channel
            if reason is not None and near and pair in FAR_PROMPT_PAIRS and found:
                # "What is the CVV on the back of the card": the question asked is the one
                # just before; "number ... card" after it is its tail, not a new question.
                before = found[-1][0]
                near = not (before.channel == word.channel and word.start - before.end <= gap)
            if reason is not None and near:
                found.append((nxt, reason))
                break
    return found


def _answers(
    runs: list[tuple[Word, ...]],
    prompt: Word,
    until: int,
    chain: int,
    talk: Talk,
    max_lead_in: int,
    several_channels: bool,
    named: Sequence[Word] = (),
) -> tuple[list[int], list[int]]:
    """Indexes of the runs that answer ``prompt``: the first run that starts before ``until``
    (the prompt's window, cut short by the next prompt or a keyed entry), and each next part
    of the answer (:func:`_answer_part`) on the same channel within ``chain`` of the one before.
    Returned as (lead, parts): ``lead`` is a lone number word that opens the answer but does
    not count towards its shape (empty when there is none).

    With several channels the answer comes from another speaker: what follows a question on
    the asker's own channel is the rest of the question. On one channel it comes after a
    pause (``talk.pause``): digits heard in the prompt's own tail are not its answer. A run
    that comes only after more than ``max_lead_in`` of other talk on its channel is no answer:
    "... call me back at ten thirty" after a card was mentioned is ordinary talk. Nor is a
    run its speaker names as another number first (``named``: the "number" of each "phone
    number", "order number" ..., see :data:`OTHER_NUMBERS`).
    """
    after = [i for i, run in enumerate(runs) if run[-1].end > prompt.end]
    near = [i for i in after if runs[i][0].start < until]
    if not near:
        return [], []
    others = [i for i in near if runs[i][0].channel != prompt.channel]
    if others:
        first = others[0]
    elif several_channels:
        return [], []  # on its own leg, what follows a question is the rest of the question
    else:
        # One channel for both speakers: the answer is said after a pause (the turn).
        own = [i for i in near if talk.pause(runs[i][0].channel, prompt.end, runs[i][0].start)]
        if not own:
            return [], []
        first = own[0]
    channel = runs[first][0].channel
    lead: list[int] = []
    if len(_digits(runs[first])) < 2:
        # A lone number word does not decide the answer's shape when a real part follows on
        # the same channel ("zero ... twenty" heard in "zero seven, twenty nine"), but it
        # opens the answer's turn: it is cut with the answer (safety first).
        fuller = [i for i in near if i > first and runs[i][0].channel == channel]
        fuller = [i for i in fuller if _answer_part(runs[i])]
        if fuller and runs[fuller[0]][0].start - runs[first][-1].end <= chain:
            lead = [first]
        first = fuller[0] if fuller else first
    if talk.lead_in(channel, prompt.end, runs[first][0].start) > max_lead_in:
        return [], []
    # "My phone number is ...": the digits after a number its speaker names are that number.
    names = [w.end for w in named if w.channel == channel and w.end > prompt.end]
    named_at = min(names, default=None)
    if named_at is not None and named_at <= runs[first][0].start <= named_at + max_lead_in:
        return [], []
    chosen, last = [first], runs[first][-1].end
    for i in after:
        if i <= first or runs[i][0].channel != channel:
            continue
        if runs[i][0].start - last > chain or not _answer_part(runs[i]):
            break
        if named_at is not None and runs[i][0].start >= named_at:
            break
        chosen.append(i)
        last = runs[i][-1].end
    if named_at is not None and named_at - last <= chain and len(_digits(runs[first])) < 2:
        # A lone number word, and then its speaker goes on to name another number: a stray
        # word heard in "... my phone number is", no answer.
        return [], []
    return lead, chosen


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


def _groups(
    runs: list[tuple[Word, ...]],
    chain: int,
    asked: Sequence[int] = (),
    named: Sequence[Word] = (),
    named_chain: int | None = None,
) -> list[list[int]]:
    """Runs read out as parts of one number: on one channel, each a group part (the last may
    be shorter once eight digits are in), each starting within ``chain`` of the one before
    (a run stands alone otherwise), with no prompt (its times in ``asked``) between them: a
    question between two runs makes them answers to two questions.

    ``named`` are the "number" words of named numbers ("my phone number is ..."): the digits
    before one and after it are two numbers, and the parts of the number it names follow each
    other within ``named_chain`` (said as one number, not read off a card with pauses), so
    what its speaker says after the pause that ends it ("yes, that is right" heard as
    "thirteen eight") is not a further part."""
    groups: list[list[int]] = []
    open_by_channel: dict[int, list[int]] = {}
    names_by_channel: dict[int, list[Word]] = {}
    for w in named:
        names_by_channel.setdefault(w.channel, []).append(w)
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
            head = runs[current[0]][0]
            names = names_by_channel.get(channel, [])
            between = any(prev[-1].end <= t <= run[0].start for t in asked) or any(
                prev[-1].end <= w.end <= run[0].start for w in names
            )
            is_named = any(0 <= head.start - w.end <= chain for w in names)
            gap = named_chain if is_named and named_chain is not None else chain
            near = run[0].start - prev[-1].end <= gap
            if _group_part(prev) and fits and near and not between:
                current.append(i)
                continue
        current = [i]
        groups.append(current)
        open_by_channel[channel] = current
    return groups


Shape = Literal["fits", "short", "other"]


def answer_shape(reason: Reason, words: Sequence[str]) -> Shape:
    """How an answer's digits fit what the prompt asked for.

    ``"fits"``: a card number of 8 digits or more (a recogniser drops some; 5 to 7 are
    short, 4 or fewer another number), an expiry of 3 to
    6 digits with a month 1-12 and no "hundred" in it, a code of 3 or 4. ``"short"``: fewer
    digits than that, which is what an answer the recogniser half missed looks like; the
    caller still cuts it, as unsure (so is a code of any other length). ``"other"``: too long
    for a card number's or expiry's place, or an amount ("two hundred and nineteen") after an
    expiry prompt: another number, kept.
    """
    digits = spell_digits(list(words))
    n = len(digits)
    if reason in ("pan", "number"):
        # Four digits or fewer after "card number" are an amount, a time or an order number
        # (a recogniser hears "order number" as "card number" now and then).
        return "fits" if n >= 8 else ("short" if n > 4 else "other")
    if reason == "code":
        # Never "other": a code heard with a digit too many, or a social security number
        # said after "security", is still not fit to keep; cut, as unsure.
        return "fits" if 3 <= n <= 4 else "short"
    if HUNDRED in words:
        return "other"
    if n > 6:
        return "other"
    if n < 3:
        return "short"
    month = int(digits[:2]) if n % 2 == 0 else int(digits[0])
    return "fits" if 1 <= month <= 12 else "other"


class Talk(Protocol):
    """What the rules may ask about the audio between words (a transcript answers nothing)."""

    def lead_in(self, channel: int, start: int, end: int) -> int:
        """How much talk that is no vocabulary word lies on ``channel`` in ``start..end``."""
        ...

    def pause(self, channel: int, start: int, end: int) -> bool:
        """Whether ``channel`` falls quiet (a turn's pause) somewhere in ``start..end``."""
        ...


class NoTalk:
    """Words only (a text transcript): no talk between them, and a pause between any two."""

    def lead_in(self, channel: int, start: int, end: int) -> int:
        return 0

    def pause(self, channel: int, start: int, end: int) -> bool:
        return True


def card_runs(
    words: Sequence[Word],
    *,
    max_gap: int,
    prompt_window: int,
    chain_gap: int | None = None,
    pair_gap: int | None = None,
    min_pan_digits: int = PAN_DIGITS,
    pan_check: Callable[[tuple[Word, ...], str], bool] | None = None,
    keyed: Sequence[tuple[int, int]] = (),
    talk: Talk | None = None,
    max_lead_in: int | None = None,
    heard_as: Mapping[str, str] | None = None,
) -> list[CardRun]:
    """Every run of card data in ``words`` (sorted by start; channels may interleave).

    ``chain_gap`` (default ``prompt_window``) is how far the next part of a number read out
    in groups (runs of three digits or more) may start; ``pair_gap`` how far "number" may
    follow "card". ``pan_check(words, digits)`` may veto the length rule for a run (it can
    still qualify through a prompt).

    A prompt only raises the expectation of card data: the words of the prompt are never
    part of a run. Its answer is looked for until the next prompt (the latest question is
    the one answered) or a keyed entry in ``keyed`` (start, end on the same axis: a prompt
    answered on the keypad has no spoken answer), and at most ``prompt_window`` after it.
    ``talk`` (:class:`Talk`) says how much other talk (speech that is no vocabulary word)
    lies on a channel between two times, and whether it pauses there; an answer after more
    than ``max_lead_in`` (default ``chain_gap``) of other talk is no answer.
    Runs of the length rule are sure; an answer is sure when its digits fit the item
    (:func:`answer_shape`), unsure but still card data when
    they are fewer, and no card data when they are another kind of number.

    ``heard_as`` maps a vocabulary word a recogniser puts in place of a number word to that
    number word ("date" for "eight"): it counts as the number word only between two number
    words, each at most ``max_gap`` away on its channel (in a run of digits, where no prompt
    is said).
    """
    chain = prompt_window if chain_gap is None else chain_gap
    heard = talk or NoTalk()
    longest_lead_in = chain if max_lead_in is None else max_lead_in
    ordered = sorted(words, key=lambda w: (w.start, w.end))
    by_channel: dict[int, list[Word]] = {}
    for word in ordered:
        by_channel.setdefault(word.channel, []).append(word)
    runs = [
        run
        for chan in by_channel.values()
        for run in number_runs(_flanked(chan, heard_as, max_gap), max_gap)
    ]
    runs.sort(key=lambda r: r[0].start)
    opened = prompts(ordered, prompt_window if pair_gap is None else pair_gap)
    if talk is not None and len(by_channel) == 1:
        runs = _split_tails(runs, [p for p, _reason in opened], talk, max_gap)
    chosen: dict[int, CardRun] = {}
    asked = [p.start for p, _reason in opened]
    named = _named_numbers(ordered, max_gap)
    bare = _bare_numbers(ordered, [p for p, _reason in opened], named, max_gap)
    for chain_id, group in enumerate(_groups(runs, chain, asked, named, 2 * max_gap)):
        digits = "".join(_digits(runs[i]) for i in group)
        joined = tuple(w for i in group for w in runs[i])
        if len(digits) >= min_pan_digits and (pan_check is None or pan_check(joined, digits)):
            for i in group:
                chosen[i] = CardRun(runs[i], "pan", _digits(runs[i]), True, chain_id)
    chain_id = len(runs)
    for n, (prompt, reason) in enumerate(opened):
        until = prompt.end + prompt_window
        if n + 1 < len(opened):
            nxt = opened[n + 1][0]
            # The next prompt's first word: a prompt pair's first word lies before its last.
            until = min(until, _first_word_of(ordered, nxt))
        for first, _last in keyed:
            if prompt.end <= first < until:
                until = first  # answered on the keypad: the tones are cut as DTMF
        if until <= prompt.end:
            continue
        if reason == "number" and len(by_channel) > 1 and _stated(runs, prompt, max_gap):
            continue
        # An expiry or a code is no "number": digits said right after a bare "number" ("my
        # order number is ...", "order" not heard) are a number stated, not this answer.
        stated = bare if reason in ("expiry", "code") else []
        lead, answer = _answers(
            runs, prompt, until, chain, heard, longest_lead_in, len(by_channel) > 1,
            [*named, *stated],
        )  # fmt: skip
        if not answer:
            continue
        taken = [k for k, i in enumerate(lead + answer) if i in chosen]
        if taken:
            # Part of the answer is already a card number (groups long enough on their own):
            # the answer's parts before and between them are that number's first groups,
            # which the recogniser heard too short to count ("four seven ... nine five").
            held = chosen[(lead + answer)[taken[0]]]
            for i in (lead + answer)[: taken[-1] + 1]:
                if i not in chosen:
                    digits = _digits(runs[i])
                    chosen[i] = CardRun(runs[i], held.reason, digits, held.sure, held.chain)
            continue
        split = heard.pause if talk is not None else None
        parts, shape = _best_prefix(reason, answer, runs, split)
        if shape == "other":
            continue
        chain_id += 1
        sure = shape == "fits"
        for i in lead:
            chosen[i] = CardRun(runs[i], reason, _digits(runs[i]), sure, chain_id)
        for i, part in parts:
            chosen[i] = CardRun(part, reason, _digits(part), sure, chain_id)
    return [chosen[i] for i in sorted(chosen)]


def _split_tails(
    runs: list[tuple[Word, ...]], ends: Sequence[Word], talk: Talk, max_gap: int
) -> list[tuple[Word, ...]]:
    """On one channel, a run that starts in a prompt's own tail ("date" of "expiry date"
    heard as "eight") and goes on after a pause is split at that pause: the words after it
    are the answer, said after the turn, and are judged on their own."""
    out: list[tuple[Word, ...]] = []
    for run in runs:
        tail = [p.end for p in ends if p.end <= run[0].start <= p.end + max_gap]
        if tail and not talk.pause(run[0].channel, tail[0], run[0].start):
            cut = next(
                (
                    j
                    for j in range(1, len(run))
                    if talk.pause(run[j].channel, run[j - 1].end, run[j].start)
                ),
                None,
            )
            if cut is not None:
                out += [run[:cut], run[cut:]]
                continue
        out.append(run)
    return out


def _named_numbers(ordered: Sequence[Word], pair_gap: int) -> list[Word]:
    """The "number" of every "phone number", "order number" ... (:data:`OTHER_NUMBERS`)."""
    return [
        nxt
        for word, nxt in itertools.pairwise(ordered)
        if word.text in OTHER_NUMBERS
        and nxt.text == "number"
        and nxt.channel == word.channel
        and nxt.start - word.end <= pair_gap
    ]


def _bare_numbers(
    ordered: Sequence[Word], ends: Sequence[Word], named: Sequence[Word], pair_gap: int
) -> list[Word]:
    """Every "number" that is neither a prompt's nor a named number's, nor said right after
    a prompt word ("security number", "cvv number"): the "number" of "my number is ...", or
    of a named number whose first word was not heard."""
    out = []
    for i, word in enumerate(ordered):
        if word.text != "number" or word in ends or word in named:
            continue
        before = [w for w in ordered[max(0, i - 2) : i] if w.channel == word.channel]
        if any(
            word.start - w.end <= pair_gap and (w.text == "card" or w.text in PROMPT_WORDS)
            for w in before
        ):
            continue
        out.append(word)
    return out


def _stated(runs: list[tuple[Word, ...]], prompt: Word, max_gap: int) -> bool:
    """Whether the speaker of a "card number" goes straight on with a number of three digits
    or more, said without gaps: "my order number is eight two six three" (heard as "card
    number ..."), a number stated, not asked for. On a leg of its own no answer from the
    other speaker is looked for; the stated digits themselves are kept or cut by the length
    rule, as any. Only for "card number": the rest of a question after "security" or
    "expiry" is heard as digits too often ("code on" as "ten one") to tell it from this."""
    for run in runs:
        if run[0].channel != prompt.channel or run[-1].end <= prompt.end:
            continue
        gap = run[0].start - prompt.end
        return 0 <= gap <= max_gap and _group_part(run)
    return False


def _best_prefix(
    reason: Reason,
    answer: list[int],
    runs: list[tuple[Word, ...]],
    split: Callable[[int, int, int], bool] | None = None,
) -> tuple[list[tuple[int, tuple[Word, ...]]], Shape]:
    """The longest first parts of an answer that fit the item, else the longest that are
    short of it: the parts after it are the next sentence's numbers ("eight two two" and then
    "seven three" heard in "you are welcome").

    With ``split`` (``Talk.pause``: recorded audio) a part may also end inside a run, at a
    pause between two of its words: on a shared channel the next speaker's first number
    word can follow the answer closer than ``max_gap`` ("zero four one" and then "twelve"
    heard in "you are welcome"). Returns (run index, the words of it taken) pairs.
    """
    best: tuple[list[tuple[int, tuple[Word, ...]]], Shape] = ([], "other")
    for k in range(1, len(answer) + 1):
        head = [(i, runs[i]) for i in answer[: k - 1]]
        last = runs[answer[k - 1]]
        ends = [len(last)]
        if split is not None:
            ends += [
                j
                for j in range(len(last) - 1, 0, -1)
                if split(last[j].channel, last[j - 1].end, last[j].start)
            ]
        short_here = False
        for end in ends:
            parts = [*head, (answer[k - 1], last[:end])]
            shape = answer_shape(reason, [w.text for _i, part in parts for w in part])
            if shape == "fits":
                best = (parts, shape)
                break
            # A short (unsure) reading is kept only while no shorter end fits: "zero four
            # one" + "twelve" is a code of 5 digits (unsure) unless the pause says 3.
            if shape == "short" and best[1] != "fits" and not short_here:
                best, short_here = (parts, shape), True
    return best


def pair_start(prev: Word, last: Word) -> bool:
    """Whether ``prev`` is the first word of a prompt pair that ``last`` ends ("card" of
    "card number", "number" of "number ... card"), on the same channel."""
    pair = (prev.text, last.text)
    return (pair in PROMPT_PAIRS or pair in FAR_PROMPT_PAIRS) and prev.channel == last.channel


def _first_word_of(ordered: Sequence[Word], last: Word) -> int:
    """Where the prompt that ends with ``last`` starts (its pair's first word, if any)."""
    i = ordered.index(last)
    if last.text in PROMPT_WORDS or i == 0:
        return last.start
    for prev in reversed(ordered[max(0, i - 2) : i]):
        if pair_start(prev, last):
            return prev.start
    return last.start


__all__ = [
    "FILLERS",
    "NUMBER_WORDS",
    "OTHER_NUMBERS",
    "PROMPT_VOCABULARY",
    "PROMPT_WORDS",
    "CardRun",
    "NoTalk",
    "Reason",
    "Shape",
    "Talk",
    "Word",
    "answer_shape",
    "card_runs",
    "is_number_word",
    "number_runs",
    "pair_start",
    "prompts",
    "spell_digits",
]
