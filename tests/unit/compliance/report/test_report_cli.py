"""``cardshield report scope``: files written, exit status from the canary verdict, and a
one-line error for a deployment that is not there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cardshield.cards import PAN
from cardshield.cli import app
from cardshield.config import Settings
from cardshield.redaction.text import find_cards
from cardshield.vault import Vault

CLI = str(Path(sys.executable).with_name("cardshield"))


def test_the_command_writes_the_pack_and_exits_0_on_pass(
    deployment: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    env = {**os.environ, "CARDSHIELD_DATA_DIR": str(deployment.data_dir)}
    proc = subprocess.run(
        [CLI, "report", "scope", "--out", str(out), "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    written = json.loads((out / "report.json").read_text())
    assert printed == written and written["canary"]["verdict"] == "PASS"
    page = (out / "report.html").read_text()
    assert "PASS" in page
    for text in (proc.stdout, proc.stderr, page):
        assert not list(find_cards(text))


def test_a_leak_makes_the_command_exit_1(
    deployment: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenize = Vault.tokenize
    spill = deployment.data_dir / "spill.txt"

    def leaky(self: Vault, merchant_id: str, pan: PAN, *args: Any, **kwargs: Any) -> Any:
        with spill.open("a") as fh:  # a debugging print left in, into the data folder
            print("card", pan.reveal(), file=fh)
        return tokenize(self, merchant_id, pan, *args, **kwargs)

    monkeypatch.setattr(Vault, "tokenize", leaky)
    monkeypatch.setenv("CARDSHIELD_DATA_DIR", str(deployment.data_dir))
    result = CliRunner().invoke(app, ["report", "scope", "--out", str(tmp_path / "pack")])
    assert result.exit_code == 1, result.output
    assert "canary leak test: FAIL" in result.output
    report = json.loads((tmp_path / "pack" / "report.json").read_text())
    assert {h["location"] for h in report["canary"]["scan"]["hits"]} == {str(spill)}
    assert not list(find_cards(result.output))


def test_no_deployment_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDSHIELD_DATA_DIR", str(tmp_path / "nothing"))
    result = CliRunner().invoke(app, ["report", "scope", "--out", str(tmp_path / "pack")])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert not (tmp_path / "pack").exists()
