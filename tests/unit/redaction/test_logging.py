"""The configured logging never writes card data, whatever path a value takes to the log."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cardshield.cards import PAN
from cardshield.redaction.logging import RedactingFilter, get_logger
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, logging_to

REPO = Path(__file__).parents[3]
SPACED = "4242 4242 4242 4242"
TRACK2 = f";{CANARY_PAN}=25121010000000000?"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    with logging_to(io.StringIO(), level="DEBUG") as stream:
        yield stream


def _fail_with_card() -> None:
    card_number = CANARY_PAN  # a local a verbose traceback formatter could show
    raise ValueError(f"gateway rejected {card_number} with cvv={CANARY_CVV}")


def test_stdlib_paths(captured: io.StringIO) -> None:
    log = logging.getLogger("cardshield.test")
    log.info("tokenizing %s", CANARY_PAN)
    log.info("body %r", {"number": SPACED, "cvc": CANARY_CVV})
    log.warning("cvv=%s", CANARY_CVV)
    log.info("track %s", TRACK2)
    log.info("plain", extra={"card": CANARY_PAN, "nested": {"pan": [CANARY_PAN]}})
    log.info("object %s", PAN(CANARY_PAN))
    log.info("bad format %d", CANARY_PAN)  # a broken format string must not bypass redaction
    try:
        _fail_with_card()
    except ValueError:
        log.exception("charge failed for %s", CANARY_PAN)
    log.info("stack", stack_info=True)
    out = captured.getvalue()
    assert "424242******4242" in out
    assert "gateway rejected" in out and "Traceback" in out
    assert_no_card_data(out)
    assert f"cvv={CANARY_CVV}" not in out and f"'cvc': '{CANARY_CVV}'" not in out


def test_child_logger_with_its_own_unfiltered_handler(captured: io.StringIO) -> None:
    # A library that adds its own handler still goes through the record factory.
    own = io.StringIO()
    child = logging.getLogger("thirdparty.lib")
    handler = logging.StreamHandler(own)
    child.addHandler(handler)
    try:
        child.error("oops %s", CANARY_PAN)
        try:
            _fail_with_card()
        except ValueError:
            child.exception("failed")
    finally:
        child.removeHandler(handler)
    assert "424242******4242" in own.getvalue()
    assert_no_card_data(own.getvalue())


def test_structlog_paths(captured: io.StringIO) -> None:
    log = get_logger("cardshield.test")
    log.info("tokenize", pan=CANARY_PAN, body={"card": {"number": SPACED, "cvc": CANARY_CVV}})
    log.info(f"event text {CANARY_PAN}", items=[CANARY_PAN, (SPACED,)], raw=CANARY_PAN.encode())
    try:
        _fail_with_card()
    except ValueError:
        log.exception("charge failed", attempt=1)
    out = captured.getvalue()
    assert "charge failed" in out and "ValueError" in out
    assert_no_card_data(out)
    assert f'"cvc": "{CANARY_CVV}"' not in out


def test_filter_redacts_records_built_by_hand() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "n=%s", (CANARY_PAN,), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "n=424242******4242"


def test_uncaught_exception_in_a_process_is_redacted() -> None:
    code = (
        "from cardshield.redaction.logging import configure_logging\n"
        "configure_logging()\n"
        f"card = '{CANARY_PAN}'\n"
        "raise RuntimeError('declined ' + card)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "RuntimeError: declined 424242******4242" in proc.stderr
    assert_no_card_data(proc.stdout + proc.stderr)


def test_scrub_masks_security_codes_by_their_key() -> None:
    from cardshield.redaction.scrub import scrub

    out = scrub(
        {
            "cvv": "737",
            "card": {"cvc": 737, "amount": 737},
            "security_code": "1234",
            "cvv_attempts": 3,
            "items": [{"card[cvc]": "123"}],
        }
    )
    assert out == {
        "cvv": "***",
        "card": {"cvc": "***", "amount": 737},
        "security_code": "***",
        "cvv_attempts": 3,
        "items": [{"card[cvc]": "***"}],
    }


def test_fields_under_card_keys_are_replaced(captured: io.StringIO) -> None:
    # Top-level fields too: a structlog keyword or a record attribute is a key like any other.
    get_logger("cardshield.test").info("structlog", cardNumber="tok_visa", cvc=CANARY_CVV)
    out = captured.getvalue()
    assert '"cardNumber": "***"' in out and '"cvc": "***"' in out
    assert "tok_visa" not in out
    record = logging.LogRecord("cardshield.test", logging.INFO, __file__, 1, "stdlib", None, None)
    record.__dict__["Card-Number"] = "tok_visa"
    RedactingFilter().filter(record)
    assert record.__dict__["Card-Number"] == "***"


def test_structlog_events_reach_caplog_through_redaction(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every canary check on ``caplog`` relies on this.
    caplog.set_level(logging.DEBUG)
    get_logger("cardshield.test").info("probe.event", card=CANARY_PAN)
    assert "probe.event" in caplog.text
    assert CANARY_PAN not in caplog.text  # and through redaction


# A session of its own, so that the order is certain whatever runs this file: the first test
# leaves logging as a careless test would, and the next must still read structlog events in
# ``caplog`` (tests/conftest.py puts logging back after each test).
_CARELESS_THEN_CAREFUL = f"""
import logging

import structlog

from cardshield.redaction.logging import get_logger


def test_a_test_that_leaves_logging_reset():
    structlog.reset_defaults()  # structlog's default prints past the stdlib
    logging.getLogger().handlers.clear()


def test_the_next_test_still_reads_structlog_events_in_caplog(caplog):
    caplog.set_level(logging.DEBUG)
    get_logger("cardshield.test").info("probe.event", card="{CANARY_PAN}")
    assert "probe.event" in caplog.text
    assert "{CANARY_PAN}" not in caplog.text
"""


def test_logging_left_reset_by_one_test_is_put_back_for_the_next(tmp_path: Path) -> None:
    tests = tmp_path / "test_pair.py"
    tests.write_text(_CARELESS_THEN_CAREFUL)
    options = ["-q", "-p", "tests.conftest", "-p", "no:cacheprovider", "-p", "no:xdist"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *options, "--rootdir", str(tmp_path), str(tests)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Only the summary line: a failure's own report would quote the card number.
    summary = (proc.stdout.strip().splitlines() or [proc.stderr[-200:]])[-1]
    assert proc.returncode == 0, summary
    assert summary.startswith("2 passed"), summary
