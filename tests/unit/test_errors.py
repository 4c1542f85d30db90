from __future__ import annotations

import pytest

from cardshield import errors


def _leaves(cls: type[errors.CardshieldError]) -> list[type[errors.CardshieldError]]:
    subs = cls.__subclasses__()
    return [cls] if not subs else [leaf for s in subs for leaf in _leaves(s)]


def test_error_object_shape() -> None:
    err = errors.InvalidCVC(param="cvc")
    assert err.to_dict() == {
        "error": {
            "type": "card_error",
            "code": "invalid_cvc",
            "message": "The security code is invalid.",
            "param": "cvc",
        }
    }
    assert err.http_status == 402


@pytest.mark.parametrize(
    "code",
    [
        "invalid_number",
        "incorrect_number",
        "unsupported_brand",
        "invalid_expiry",
        "expired_card",
        "invalid_cvc",
    ],
)
def test_card_error_codes_exist(code: str) -> None:
    codes = {cls.code for cls in _leaves(errors.CardError)}
    assert code in codes


def test_every_error_is_documented_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    for cls in _leaves(errors.CardshieldError):
        if cls.__module__ == "cardshield.errors":
            assert cls.__name__ in doc, f"{cls.__name__} missing from the errors.py tree"
