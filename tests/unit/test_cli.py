from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from cardshield import __version__
from cardshield.cli import app
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"cardshield {__version__}"


def test_cards_check_from_stdin() -> None:
    result = runner.invoke(app, ["cards", "check"], input="4242 4242 4242 4242\n378282246310005\n")
    assert result.exit_code == 0, result.output
    assert "visa" in result.output and "424242******4242" in result.output
    assert "amex" in result.output and "378282*****0005" in result.output
    assert_no_card_data(result.output, (CANARY_PAN, "378282246310005"))


def test_cards_check_reports_reason_and_fails() -> None:
    result = runner.invoke(app, ["cards", "check", "--json"], input="4242424242424241\n")
    assert result.exit_code == 1
    row = json.loads(result.output)
    assert row["valid"] is False and row["error"] == "incorrect_number"
    assert "4242424242424241" not in result.output


def test_cards_check_refuses_numbers_on_the_command_line() -> None:
    result = runner.invoke(app, ["cards", "check", CANARY_PAN])
    assert result.exit_code == 2
    assert "never from the command line" in result.output
    assert_no_card_data(result.output)


def test_redact_text_streams_stdin_to_stdout() -> None:
    data = f"a {CANARY_PAN}\nb cvc={CANARY_CVV}\n\xff raw bytes\n".encode("latin-1")
    proc = subprocess.run(
        [sys.executable, "-m", "cardshield", "redact", "text"],
        input=data,
        capture_output=True,
        check=True,
    )
    assert proc.stdout == b"a 424242******4242\nb cvc=***\n\xff raw bytes\n"
    assert_no_card_data(proc.stdout + proc.stderr)


def test_serve_refuses_several_workers_without_redis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
    env["CARDSHIELD_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "cardshield", "serve", "--workers", "2", "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --workers above 1 needs CARDSHIELD_REDIS_URL: the workers must share the CVC"
        " store and the rate limits"
    )
