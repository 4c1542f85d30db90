"""Shared test fixtures: canary card data and helpers that assert it never leaks."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

import pytest
import structlog

from cardshield.redaction.logging import configure_logging

# Where the session's log handler writes: nowhere (caplog and the tests' own captures read
# the records). Open for the whole session.
LOG_SINK = open(os.devnull, "w")  # noqa: SIM115

pytest_plugins = ["tests.databases", "tests.apps"]

VECTORS = Path(__file__).parent / "vectors"

# The canary: a published test card and a CVV that must never appear in any output.
CANARY_PAN = "4242424242424242"
CANARY_CVV = "737"


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def assert_no_card_data(blob: str | bytes, pans: tuple[str, ...] = (CANARY_PAN,)) -> None:
    """Fail if ``blob`` holds any of ``pans`` (also with separators stripped)."""
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    squeezed = re.sub(r"[ \-.]|%20|%2[DE]", "", text)
    for pan in pans:
        assert pan not in text, "full PAN found in output"
        assert pan not in squeezed, "full PAN found in output once separators are removed"


def assert_no_cvv(text: str, cvv: str = CANARY_CVV) -> None:
    """Fail if ``text`` holds the security code as a value of its own, or just after a
    code's name (``cvv737``, ``cvc=737``). Three digits also turn up by chance inside ids and
    hashes (``evt_3f7aed1fc737aef9``) and longer numbers (ports), so a code touching a letter
    or digit is a leak only when a code's name comes right before it."""
    alone = re.search(rf"(?<![0-9A-Za-z]){cvv}(?![0-9A-Za-z])", text)
    if alone is not None:  # where, with the code itself starred out
        near = text[max(0, alone.start() - 40) : alone.end() + 40].replace(cvv, "*" * len(cvv))
        raise AssertionError(f"CVV found in output: ...{near}...")
    named = re.search(rf"(cvc|cvv|csc|cvn|security.?code)\W{{0,8}}{cvv}(?![0-9])", text, re.I)
    if named is not None:  # raised, not asserted: pytest would print the match, code and all
        raise AssertionError("CVV found in output, after its name")


@pytest.fixture(autouse=True, scope="session")
def _scan_key_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``cardshield scan`` keys finding ids with a key file it creates on first use; tests
    (and the processes they start) use one under the session's temporary directory, never
    the real ``~/.config``."""
    home = tmp_path_factory.mktemp("config")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(home))
        patch.setenv("CARDSHIELD_SCAN_KEY_FILE", str(home / "cardshield" / "scan.key"))
        yield


@pytest.fixture(autouse=True, scope="session")
def _cardshield_logging() -> None:
    """Configure logging as every cardshield process does, so that structlog events go
    through the stdlib (and so reach ``caplog``) and through redaction."""
    configure_logging(level="DEBUG", stream=LOG_SINK)


_Stream = TypeVar("_Stream", bound=TextIO)


@contextmanager
def logging_to(stream: _Stream, *, level: str = "DEBUG", fmt: str = "json") -> Iterator[_Stream]:
    """cardshield's logging set-up writing to ``stream`` for a while, then back to the
    session's (above), record factory included."""
    saved = logging.getLogRecordFactory()
    configure_logging(level=level, fmt=fmt, stream=stream)
    try:
        yield stream
    finally:
        logging.setLogRecordFactory(saved)
        configure_logging(level="DEBUG", stream=LOG_SINK)


def _ours(handlers: list[logging.Handler]) -> list[logging.Handler]:
    """The root handlers that are not pytest's own (it adds and removes those per phase)."""
    return [h for h in handlers if not type(h).__module__.startswith("_pytest")]


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    """After each test, the session's logging as it was before. A test that configures
    logging (the CLI does, for its process) must not leave structlog printing past the
    stdlib: ``caplog`` would then be empty for every later test in the worker, and each
    canary check on it would pass without reading a single event."""
    root = logging.getLogger()
    handlers, level, factory = _ours(root.handlers), root.level, logging.getLogRecordFactory()
    config, hook = structlog.get_config(), sys.excepthook
    yield
    for handler in _ours(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
    structlog.configure(**config)
    sys.excepthook = hook


@pytest.fixture
def canary_pan() -> str:
    return CANARY_PAN
