"""Fixtures for the recording-redaction tests: tools, the recogniser and generated calls.

Calls are rendered once per session (espeak-ng and sox), into a cache shared by the tests.
Under CI (CI=true) a missing espeak-ng or sox fails the tests instead of skipping them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cardshield.redaction.speech import SphinxRecognizer
from tests.conftest import CANARY_CVV, CANARY_PAN
from tests.unit.phone.conftest import require_tool
from tests.unit.redaction.audio.calls import (
    Call,
    card_script,
    make_call,
    negative_script,
    words_for,
)

#: Voice pairs (agent, caller). They are numbered espeak-ng variants, which the corpus the
#: telephone-band model was adapted on leaves out (tools/build_telephone_model.py);
#: bench/redact_bench.py measures these and four more pairs.
VOICES = (("en-us+m3", "en-gb+f2"), ("en-us+f2", "en-us+m7"))
EXPIRY_WORDS = "oh nine, twenty eight"
KEYED = CANARY_PAN + "#"


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("espeak-ng")
    require_tool("sox")
    return tmp_path_factory.mktemp("calls")


@pytest.fixture(scope="session")
def recognizer() -> SphinxRecognizer:
    return SphinxRecognizer()


def card_call(cache: Path, voices: tuple[str, str], rate: int) -> Call:
    script = card_script(
        words_for(CANARY_PAN), EXPIRY_WORDS, " ".join(words_for(CANARY_CVV).split()), KEYED
    )
    return make_call(script, voices, cache, rate=rate)


def negative_call(cache: Path, voices: tuple[str, str], rate: int) -> Call:
    return make_call(negative_script(), voices, cache, rate=rate)
