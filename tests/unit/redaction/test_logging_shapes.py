"""The configured logging masks card numbers in every shape the text redactor knows
(Unicode spaces and digits, doubled and mixed separators, groupings, glued letters), on
the stdlib path, through ``extra=`` and through structlog's processor."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from cardshield.redaction.logging import (
    RedactingFilter,
    get_logger,
    redact_event,
)
from tests.conftest import logging_to

from . import card_shapes as shapes
from .test_text_shapes import MASKED


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    with logging_to(io.StringIO(), level="DEBUG") as stream:
        yield stream


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _log_everywhere(text: str) -> None:
    logging.getLogger("cardshield.test").info("note %s", text)
    logging.getLogger("cardshield.test").info("extra", extra={"description": text})
    get_logger("cardshield.test").info("payment.created", description=text, metadata={"k": text})


def _written_values(stream: io.StringIO) -> list[str]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line]
    assert len(lines) == 3
    return [s for line in lines for s in _strings(line)]


@pytest.mark.parametrize(("name", "text", "expected"), MASKED, ids=[c[0] for c in MASKED])
def test_each_shape_is_masked_in_the_log(
    captured: io.StringIO, name: str, text: str, expected: str
) -> None:
    _log_everywhere(text)
    values = _written_values(captured)
    assert f"note {expected}" in values
    assert values.count(expected) == 2  # structlog value and nested metadata value
    assert text not in captured.getvalue() and text not in values


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(shapes.written())
def test_any_pasted_shape_never_reaches_a_log_line(
    captured: io.StringIO, case: shapes.Written
) -> None:
    captured.seek(0)
    captured.truncate()
    _log_everywhere(case.text)
    for value in _written_values(captured):
        assert case.pan.reveal() not in shapes.digits_of(value)
    assert f"note {case.masked()}" in _written_values(captured)


@given(shapes.written())
def test_the_filter_and_the_processor_on_their_own(case: shapes.Written) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "n=%s", (case.text,), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"n={case.masked()}"
    event = redact_event(None, "info", {"event": "e", "description": case.text})
    assert event["description"] == case.masked()
