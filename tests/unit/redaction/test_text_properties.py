"""Property tests: every valid PAN, however it is written into a text, comes out masked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cardshield.cards import CVV, IIN_TABLE, PAN, luhn_check_digit, mask_in_place
from cardshield.redaction.text import redact

from . import card_shapes as shapes

SEPARATORS = [" ", "-", ".", "%20", "%2D", "%2E"]


@st.composite
def pans(draw: st.DrawFn) -> PAN:
    row = draw(st.sampled_from(IIN_TABLE))
    width = len(row.low)
    prefix = str(draw(st.integers(int(row.low), int(row.high)))).zfill(width)
    length = draw(st.sampled_from(sorted(row.lengths)))
    body = prefix + "".join(
        draw(
            st.lists(
                st.sampled_from("0123456789"),
                min_size=length - width - 1,
                max_size=length - width - 1,
            )
        )
    )
    return PAN(body + luhn_check_digit(body))


def groupings(n: int) -> list[list[int]]:
    options = [[n]]
    fours = [4] * (n // 4) + ([n % 4] if n % 4 else [])
    options.append(fours)
    if n == 15:
        options += [[4, 6, 5]]
    if n == 14:
        options += [[4, 6, 4]]
    return options


@st.composite
def written(draw: st.DrawFn) -> tuple[PAN, str]:
    pan = draw(pans())
    digits = pan.reveal()
    groups = draw(st.sampled_from(groupings(len(digits))))
    sep = draw(st.sampled_from(SEPARATORS))
    parts, pos = [], 0
    for size in groups:
        parts.append(digits[pos : pos + size])
        pos += size
    return pan, sep.join(parts)


@settings(max_examples=400, deadline=None)
@given(written(), st.text(max_size=60), st.text(max_size=60))
def test_any_pan_in_any_text_is_masked(case: tuple[PAN, str], before: str, after: str) -> None:
    pan, formatted = case
    text = f"{before} | {formatted} | {after}"
    out = redact(text)
    digits_only = "".join(ch for ch in out if "0" <= ch <= "9")
    assert pan.reveal() not in digits_only
    positions = []  # indexes of the card's digits (not the digits of a "%20" escape)
    i = 0
    while i < len(formatted):
        if formatted[i] == "%":
            i += 3
        elif formatted[i] in " -.":
            i += 1
        else:
            positions.append(i)
            i += 1
    assert f" | {mask_in_place(formatted, positions)} | " in out
    # no run of the card's digits longer than the masking rule allows survives
    visible = sum(1 for p in positions if mask_in_place(formatted, positions)[p] != "*")
    assert visible <= 10


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["cvv", "cvc", "CVV2", "security_code", "card[cvc]", "csc"]),
    st.sampled_from(["=", ": ", '": "', " "]),
    st.from_regex(r"\A[0-9]{3,4}\Z"),
)
def test_named_cvv_values_are_masked(key: str, sep: str, value: str) -> None:
    out = redact(f"x {key}{sep}{value} y")
    assert value not in out.split(key, 1)[1]


@given(pans(), st.from_regex(r"\A[0-9]{3}\Z"))
def test_repr_and_str_never_contain_the_value(pan: PAN, code: str) -> None:
    cvv = CVV(code)
    for shown in (repr(pan), str(pan), f"{pan}"):
        assert pan.reveal() not in shown
    for shown in (repr(cvv), str(cvv), f"{cvv}"):
        assert code not in shown


@settings(max_examples=500, deadline=None)
@given(shapes.written(), st.text(shapes.NOT_A_DIGIT, max_size=40), st.text(max_size=40))
def test_any_pasted_shape_is_masked(case: shapes.Written, before: str, after: str) -> None:
    # Unicode spaces and digits, doubled and mixed separators, any grouping, glued letters.
    text = f"{before} | {case.text} | {after}"
    out = redact(text)
    assert f" | {case.masked()} | " in out
    assert case.pan.reveal() not in shapes.digits_of(out.rsplit(" | ", 1)[0])
