"""The spoken-number rules shared by recordings and transcripts."""

from __future__ import annotations

import pytest

from cardshield.redaction.spans import Word, card_runs, spell_digits


@pytest.mark.parametrize(
    ("words", "digits"),
    [
        ("four one one one", "4111"),
        ("double four", "44"),
        ("triple oh", "000"),
        ("oh nine twenty eight", "0928"),
        ("twenty twenty eight", "2028"),
        ("seven hundred thirty seven", "737"),
        ("nine hundred nineteen", "919"),
        ("seven hundred five", "705"),
        ("thirty", "30"),
        ("4111 1111", "41111111"),
        ("double", ""),
    ],
)
def test_spell_digits(words: str, digits: str) -> None:
    assert spell_digits(words.split()) == digits


def _timed(text: str, channel: int = 0, start: int = 0, step: int = 300) -> list[Word]:
    """Words ``step`` ms apart, each 250 ms long; '|' adds a one-second pause."""
    out: list[Word] = []
    t = start
    for token in text.split():
        if token == "|":
            t += 1000
            continue
        out.append(Word(token, t, t + 250, channel))
        t += step
    return out


AUDIO = {"max_gap": 600, "prompt_window": 4000, "chain_gap": 2000, "pair_gap": 1000}


def test_twelve_spoken_digits_are_a_card_number() -> None:
    words = _timed("my number is four two four two four two four two four two four two")
    (run,) = card_runs(words, **AUDIO)
    assert (run.reason, len(run.digits)) == ("pan", 12)
    assert "4242" not in repr(run)


def test_eleven_digits_without_a_prompt_are_not() -> None:
    assert (
        card_runs(_timed("call five five five two one three eight six four zero one"), **AUDIO)
        == []
    )


def test_groups_with_pauses_join_into_one_number() -> None:
    words = _timed("four two four two | four two four two | four two four two | four two")
    runs = card_runs(words, **AUDIO)
    assert [r.reason for r in runs] == ["pan"] * 4


def test_stray_number_words_do_not_join() -> None:
    # Four far-apart pairs of digits: 8 digits in all, and no run is a group of three.
    words = _timed("four two | | two four | | one one | | eight eight")
    assert card_runs(words, **AUDIO) == []


@pytest.mark.parametrize(
    ("prompt", "reason", "answer"),
    [
        ("security code", "code", "seven three seven"),
        ("security", "code", "seven three seven"),
        ("expiry date", "expiry", "oh nine two eight"),
        ("cvv", "code", "seven three seven"),
        ("card number", "number", "four one one one one one one one one"),
    ],
)
def test_answer_after_a_prompt(prompt: str, reason: str, answer: str) -> None:
    words = _timed(f"what is the {prompt}", channel=0) + _timed(answer, channel=1, start=3000)
    (run,) = card_runs(words, **AUDIO)
    assert (run.reason, run.channel, run.sure) == (reason, 1, True)
    assert all(w.text in answer.split() for w in run.words), "a prompt word was cut"


@pytest.mark.parametrize("prompt", ["order number", "zip code", "phone number", "code"])
def test_other_numbers_are_no_prompt(prompt: str) -> None:
    words = _timed(f"what is the {prompt}", channel=0) + _timed(
        "seven three seven", channel=1, start=3000
    )
    assert card_runs(words, **AUDIO) == []


def test_answer_too_late_is_not_taken() -> None:
    words = _timed("the security code", channel=0) + _timed("seven three", channel=1, start=9000)
    assert card_runs(words, **AUDIO) == []


def test_answer_comes_from_the_other_speaker() -> None:
    # The agent's own "two" right after the prompt is the rest of the question.
    words = _timed("and the security code two", channel=0) + _timed(
        "seven three seven", channel=1, start=2500
    )
    runs = card_runs(words, **AUDIO)
    assert [(r.channel, r.digits) for r in runs] == [(1, "737")]


def test_an_answer_in_parts_is_taken_whole() -> None:
    # "oh nine, twenty eight": the second part is two digits, said without a gap.
    words = _timed("and the expiry date", channel=0) + _timed(
        "oh nine | twenty eight", channel=1, start=2000
    )
    runs = card_runs(words, **AUDIO)
    assert [(r.reason, r.digits) for r in runs] == [("expiry", "09"), ("expiry", "28")]


def test_stray_words_after_an_answer_are_not_part_of_it() -> None:
    # One stray digit after the prompt is taken (it is the answer, however short), but the
    # scattered number words the recogniser hears in the talk after it are not.
    stray = [Word("two", 4000, 4150, 1), Word("four", 4900, 5100, 1), Word("two", 5550, 5650, 1)]
    words = [*_timed("and the cvv", channel=0), Word("oh", 2600, 2750, 1), *stray]
    runs = card_runs(words, **AUDIO)
    assert [(r.start, r.end) for r in runs] == [(2600, 2750)]
