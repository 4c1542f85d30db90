from __future__ import annotations

import pytest

from cardshield.cards import PAN, Brand
from cardshield.errors import CardError
from tests.conftest import load_vectors

VECTORS = load_vectors("cards.json")
CASES = [
    pytest.param(v, id=f"{section}:{v['note']}")
    for section in ("published", "iin_edges", "luhn_failures", "formatting")
    for v in VECTORS[section]
]


@pytest.mark.parametrize("vector", CASES)
def test_vector(vector: dict[str, str]) -> None:
    if vector["valid"]:
        pan = PAN(vector["number"])
        assert pan.brand is Brand(vector["brand"])
    else:
        with pytest.raises(CardError) as info:
            PAN(vector["number"])
        assert info.value.code == vector["error"]
        digits = "".join(ch for ch in vector["number"] if ch.isdigit())
        if digits:
            assert digits not in str(info.value)
            assert digits not in repr(info.value)
