"""Secret: masked everywhere it could be printed, constant-time equality, never pickled."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

from cardshield.crypto import Secret
from tests.conftest import CANARY_PAN, assert_no_card_data

MASK = "Secret('***')"


@pytest.mark.parametrize("value", [CANARY_PAN, CANARY_PAN.encode(), "hunter2", b"\x00\xff"])
def test_every_rendering_is_masked(value: str | bytes, caplog: pytest.LogCaptureFixture) -> None:
    s = Secret(value)
    rendered = [repr(s), str(s), f"{s}", f"{s!r}", f"{s:>20}", repr([s]), repr({"k": s})]
    assert rendered[:4] == [MASK] * 4
    assert rendered[4] == MASK.rjust(20)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("value %s %r", s, s)
    for text in [*rendered, caplog.text]:
        assert_no_card_data(text)
        assert "hunter2" not in text
    assert s.reveal() == value


def test_equality_is_by_value_and_type() -> None:
    assert Secret(b"abc") == Secret(b"abc")
    assert Secret("abc") == Secret("abc")
    assert Secret(b"abc") != Secret(b"abd")
    assert Secret(b"abc") != Secret(b"abcd")
    assert Secret("abc") != Secret(b"abc")
    assert Secret("abc") != "abc"
    assert Secret("é") == Secret("é")
    assert hash(Secret(b"k")) == hash(Secret(b"k"))


def test_pickling_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(b"key"))


def test_copies_are_the_same_object() -> None:
    s = Secret(b"key")
    assert copy.copy(s) is s
    assert copy.deepcopy(s) is s


@pytest.mark.parametrize("bad", [123, None, bytearray(b"x"), ["x"]])
def test_only_bytes_or_str(bad: object) -> None:
    with pytest.raises(TypeError):
        Secret(bad)  # type: ignore[type-var]


def test_no_instance_dict_to_leak_through() -> None:
    s = Secret(b"key")
    assert not hasattr(s, "__dict__")
    assert "key" not in repr(vars(type(s)).get("__slots__"))
