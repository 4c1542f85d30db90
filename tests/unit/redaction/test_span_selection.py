"""Span selection on word streams: the prompt is kept, the digits are cut with a margin, and
runs the rules are unsure of are cut and reported as such."""

from __future__ import annotations

import numpy as np

from cardshield.redaction.audio import Segment
from cardshield.redaction.batch import BatchReport, FileResult
from cardshield.redaction.cuts import CutRules, guard_words, speech_cuts
from cardshield.redaction.spans import NoTalk, Word, answer_shape, card_runs, prompts

AUDIO = {"max_gap": 600, "prompt_window": 4000, "chain_gap": 2000, "pair_gap": 1000}


def _timed(text: str, start: int, channel: int = 0, step: int = 300) -> list[Word]:
    return [
        Word(t, start + i * step, start + i * step + 250, channel)
        for i, t in enumerate(text.split())
    ]


def _active(ms: int, *spans: tuple[int, int]) -> np.ndarray:
    """10 ms activity frames: sound in each (start, end) ms span, quiet elsewhere."""
    out = np.zeros(ms // 10, dtype=bool)
    for a, b in spans:
        out[a // 10 : b // 10] = True
    return out


class _Mono(NoTalk):
    """One channel; a pause wherever at least 200 ms separate two times."""

    def pause(self, channel: int, start: int, end: int) -> bool:
        return end - start >= 200


def test_mono_prompt_is_kept_digits_cut_with_margin() -> None:
    # "what is the card number" 0-1450 ms, 400 ms turn gap, then sixteen digits from 1850.
    prompt = _timed("what is the card number", 0)
    digits = _timed(" ".join(["four", "one", "one", "one"] * 4), 1850)
    words = prompt + digits
    runs = card_runs(words, **AUDIO, talk=_Mono())
    assert runs and all(w.text not in {"card", "number"} for r in runs for w in r.words)
    active = [_active(8000, (0, 1450), (1850, digits[-1].end))]
    ends = [w for w, _ in prompts(words, 1000)]
    (cut,) = speech_cuts(runs, active, guard_words(words, ends), CutRules(margin_ms=80))
    assert cut.sure and cut.basis == "pan"
    assert cut.start_ms == 1850 - 80, "the cut starts at the digits' pause, less the margin"
    assert cut.end_ms == digits[-1].end + 80
    assert cut.start_ms > 1450, "the prompt is not cut"


def test_digits_in_the_prompts_own_tail_are_not_its_answer() -> None:
    # "security code two" on one channel with no pause: "two" belongs to the prompt.
    words = [*_timed("the security", 0), Word("two", 600, 800), *_timed("seven three seven", 1500)]

    class Talk(_Mono):
        def pause(self, channel: int, start: int, end: int) -> bool:
            return start <= 1100 <= end  # the only pause: 1100-1500

    runs = card_runs(words, **AUDIO, talk=Talk())
    assert [(r.reason, r.start) for r in runs] == [("code", 1500)]


def test_prompt_answered_on_the_keypad_has_no_spoken_answer() -> None:
    words = _timed("the security code", 0, channel=0) + _timed("seven three", 3000, channel=1)
    assert card_runs(words, **AUDIO) != []
    assert card_runs(words, **AUDIO, keyed=[(1200, 2400)]) == []


def test_a_mention_then_an_order_number_is_kept() -> None:
    # "... never keep your card number" then the caller's order number: four digits.
    words = _timed("your card number", 0, channel=0) + _timed(
        "eight two six three", 1500, channel=1
    )
    assert card_runs(words, **AUDIO) == []


def test_short_answer_is_cut_and_unsure() -> None:
    words = _timed("and the cvv", 0, channel=0) + _timed("seven three", 1500, channel=1)
    (run,) = card_runs(words, **AUDIO)
    assert (run.reason, run.sure) == ("code", False)
    active = [_active(5000), _active(5000, (1500, 2050))]
    (cut,) = speech_cuts([run], active, [], CutRules())
    assert not cut.sure and cut.confidence <= 0.5


def test_digits_running_into_talk_are_cut_further_and_unsure() -> None:
    words = _timed("and the cvv", 0, channel=0) + _timed("seven three seven", 1500, channel=1)
    runs = card_runs(words, **AUDIO)
    # Sound goes on for two seconds after the last digit: the edge finds no pause.
    active = [_active(6000), _active(6000, (1500, 4300))]
    (cut,) = speech_cuts(runs, active, [], CutRules(edge_ms=300, unsure_ms=1000))
    assert not cut.sure
    assert cut.end_ms >= words[-1].end + 1000, "safety first: the edge grows on"


def test_other_number_shapes() -> None:
    assert answer_shape("expiry", ["two", "hundred", "nineteen"]) == "other"
    assert answer_shape("expiry", ["oh", "nine", "twenty", "eight"]) == "fits"
    # A code is never kept: one heard with digits too many is cut, as unsure.
    assert answer_shape("code", ["five", "five", "five", "two", "one", "three"]) == "short"
    assert answer_shape("code", ["seven"]) == "short"
    assert answer_shape("number", ["forty", "nine", "ninety", "five"]) == "other"


def test_report_totals_by_reason_and_model() -> None:
    segs = [
        Segment(0, 1500, "dtmf", 1.0, 1, False, "keyed"),
        Segment(2000, 2500, "speech", 0.4, 1, True, "code"),
    ]
    result = FileResult("a.wav", "0" * 64, "done", 9000, segs)
    assert result.totals() == {
        "seconds_cut": 2.0,
        "by_reason": {"dtmf": 1.5, "speech": 0.5},
        "unsure": 1,
    }
    report = BatchReport([result, FileResult("b.wav", "1" * 64, "done", 100)], "x", "shipped")
    doc = report.to_json()
    assert '"model": "shipped"' in doc and '"seconds_cut": 2.0' in doc
    assert "seconds_cut" in report.to_csv().splitlines()[0]


def test_lone_first_word_of_an_answer_is_cut_with_it() -> None:
    # Mono "... the expiry date" then "zero seven, twenty nine" heard as "zero" ... "twenty":
    # the lone "zero" does not decide the shape, but the answer's turn starts there.
    words = [*_timed("the expiry", 0), Word("zero", 1400, 1650), Word("twenty", 2400, 2650)]
    runs = card_runs(words, **AUDIO, talk=_Mono())
    assert [(r.reason, r.start) for r in runs] == [("expiry", 1400), ("expiry", 2400)]
    assert len({r.chain for r in runs}) == 1, "one answer: cut as one, the gap with it"
    assert not any(r.sure for r in runs)


def test_answer_parts_before_a_card_number_join_it() -> None:
    # "card number" then "four seven" (the rest of its group unheard) and two long groups:
    # the groups alone are a card number; the first short part belongs to it.
    words = [
        *_timed("the card number", 0),
        *_timed("four seven", 1300),
        *_timed("four two two oh five eight seven", 2900),
        *_timed("one five eighty oh", 5600),  # "15800": heard with an extra digit
    ]
    runs = card_runs(words, **AUDIO, talk=_Mono())
    assert runs[0].start == 1300 and runs[0].reason == "pan"
    assert len({r.chain for r in runs}) == 1


def test_answer_ends_at_the_pause_before_the_next_speakers_number() -> None:
    # Mono: "the cvv", then "zero four one" and 350 ms later "twelve" (heard in the next
    # speaker's "you are welcome"): one run by its gaps, but the code ends at the pause.
    words = [*_timed("the cvv", 0), *_timed("zero four one", 1000), Word("twelve", 2200, 2450)]

    class Talk(_Mono):
        def pause(self, channel: int, start: int, end: int) -> bool:
            return end - start >= 300

    (run,) = card_runs(words, **AUDIO, talk=Talk())
    assert (run.reason, run.sure, run.digits) == ("code", True, "041")
    assert run.end == words[-2].end, "the next speaker's word is kept"
    # Without audio (a transcript) the pause is unknown: the whole run is cut, as unsure.
    (whole,) = card_runs(words, **AUDIO)
    assert (whole.reason, whole.sure, whole.digits) == ("code", False, "04112")


def test_date_between_digits_is_heard_as_eight() -> None:
    # No prompt heard; "eight" twice heard as "date" inside a read-out card number.
    text = "nine nine date seven three zero date one nine seven three six five"
    words = _timed(text, 0, channel=1)
    assert card_runs(words, **AUDIO) == []
    runs = card_runs(words, **AUDIO, heard_as={"date": "eight"})
    assert runs and runs[0].reason == "pan" and len(runs[0].digits) == 13
    # A lone "date", not between two number words, is left as it is.
    alone = _timed("the date", 0) + _timed("four five one two", 1200)
    assert card_runs(alone, **AUDIO, heard_as={"date": "eight"}) == []


def test_a_number_its_speaker_names_is_no_answer() -> None:
    # "... your card number on file", then the caller: "my phone number is five five five ..."
    mention = _timed("your card number", 0, channel=0)
    named = _timed("phone number", 1300, channel=1) + _timed(
        "five five five two one three eight six four zero", 1900, channel=1
    )
    assert card_runs(mention + named, **AUDIO) == []
    # The same digits with no name before them answer the card prompt (10 digits: a card
    # number the recogniser half heard): cut.
    bare = _timed("five five five two one three eight six four zero", 1900, channel=1)
    assert [r.reason for r in card_runs(mention + bare, **AUDIO)] == ["number"]


def test_a_stray_word_before_a_named_number_is_no_answer() -> None:
    # "for your security ..." and then "nine" heard in "my", then "phone number ...".
    words = [
        *_timed("your security", 0, channel=0),
        Word("nine", 1200, 1350, 1),
        *_timed("phone number", 1400, channel=1),
        *_timed("five five five two one three", 2000, channel=1),
    ]
    assert card_runs(words, **AUDIO) == []


def test_a_card_number_stated_by_its_own_speaker_asks_nothing() -> None:
    # "my order number is eight two six three" heard as "card number eight two six three":
    # the agent's "... five thirty" after it (five digits heard) is no answer.
    words = _timed("card number eight two six three", 0, channel=1) + _timed(
        "ninety five thirty two two", 2500, channel=0
    )
    assert card_runs(words, **AUDIO) == []
    # Asked, not stated: the other speaker's answer is taken.
    asked = _timed("card number", 0, channel=1) + _timed("four one one one five", 1500, 0)
    assert [r.reason for r in card_runs(asked, **AUDIO)] == ["number"]
    # Digits straight after "security" are still no reason to keep the answer: "code on"
    # is heard as "ten one" too often.
    code = _timed("security ten one", 0, channel=0) + _timed("eight two two", 2000, channel=1)
    assert [r.reason for r in card_runs(code, **AUDIO)] == ["code"]


def test_a_cut_stops_at_the_pause_once_every_digit_is_heard() -> None:
    # The caller's code, 350 ms of quiet, then "yes, that is right" on the same leg.
    words = _timed("the security code", 0, channel=0) + _timed("two five five", 1500, channel=1)
    runs = card_runs(words, **AUDIO)
    active = [_active(6000), _active(6000, (1500, 2350), (2700, 3900))]
    rules = CutRules(missing_bridge_ms=450)
    (cut,) = speech_cuts(runs, active, [], rules)
    assert cut.sure and cut.end_ms == 2350 + rules.margin_ms, "the next sentence is kept"
    # Two digits of a code heard: the third may follow the pause, so the cut bridges it.
    short = card_runs(words[:-1], **AUDIO)
    (cut,) = speech_cuts(short, [active[0], _active(6000, (1500, 2050), (2400, 2700))], [], rules)
    assert not cut.sure and cut.end_ms >= 2700


def test_a_cut_never_reaches_into_the_first_word_of_a_prompt_pair() -> None:
    words = _timed("five five five two", 0) + _timed("card number", 1400)
    ends = [w for w, _ in prompts(words, 1000)]
    guards = guard_words(words, ends)
    assert {w.text for w in guards} == {"card", "number"}


def test_a_cut_stops_at_the_pause_when_the_missing_digit_was_said_before_it() -> None:
    # "seven three [four]" with "four" not recognised (the sound runs on 580 ms after
    # "three"), 350 ms of quiet, then "yes, that is right": the missing digit lies before the
    # pause, so the cut ends there and the next sentence is kept.
    words = _timed("the security code", 0, channel=0) + _timed("seven three", 1500, channel=1)
    runs = card_runs(words, **AUDIO)
    assert [r.sure for r in runs] == [False]  # two digits of a code: unsure, cut
    heard_end = words[-1].end  # 2050
    active = [_active(6000), _active(6000, (1500, heard_end + 580), (heard_end + 930, 3900))]
    rules = CutRules(missing_bridge_ms=450)
    (cut,) = speech_cuts(runs, active, [], rules)
    assert cut.end_ms == heard_end + 580 + rules.margin_ms
    # A pause right after the digits heard: the missing one may follow it, so it is bridged.
    (cut,) = speech_cuts(runs, [active[0], _active(6000, (1500, 2060), (2410, 2700))], [], rules)
    assert cut.end_ms >= 2700


def test_digits_after_a_bare_number_answer_no_expiry_or_code() -> None:
    # "... before your card expires next year", then the caller: "my order number is eight
    # two six three" with "order" not heard: a number stated, no expiry.
    mention = _timed("card expires", 0, channel=0)
    stated = _timed("number", 1300, channel=1) + _timed("oh nine two six", 1700, channel=1)
    assert card_runs(mention + stated, **AUDIO) == []
    # Without the "number" before them, digits fit for an expiry answer the prompt: cut.
    bare = _timed("oh nine two six", 1700, channel=1)
    assert [r.reason for r in card_runs(mention + bare, **AUDIO)] == ["expiry"]


def test_a_named_number_does_not_chain_into_what_its_speaker_says_next() -> None:
    # "my phone number is ... [9 digits heard]", a pause of 1.3 s, then "yes, that is right"
    # heard as "thirteen eight": two numbers, neither a card number.
    phone = _timed("phone number", 0, channel=1) + _timed(
        "eight two one three eight six four three oh", 700, channel=1
    )
    after = _timed("thirteen eight", phone[-1].end + 1300, channel=1)
    assert card_runs(phone + after, **AUDIO) == []
    # The same runs with no name before them read as one number in groups: a card number.
    digits = phone[2:]
    assert [r.reason for r in card_runs(digits + after, **AUDIO)] == ["pan", "pan"]
    # A number read in groups right after a named one is still cut once it is card-long:
    # the parts of the named number follow each other closely.
    groups = _timed("four one one one one one", 700, channel=1)
    more = _timed("one one one one one one", groups[-1].end + 500, channel=1)
    named = _timed("phone number", 0, channel=1)
    assert {r.reason for r in card_runs(named + groups + more, **AUDIO)} == {"pan"}
