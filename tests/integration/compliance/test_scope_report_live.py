"""The canary's HTTP flows against a live ``cardshield serve`` process: its own log file
(in the data folder) is scanned along with everything else, and the run passes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cardshield.compliance.report import build_report
from cardshield.config import Settings

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("cardshield"))


PLATFORMS = ("twilio_pay", "amazon_connect")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_canary_through_a_live_server(deployment: Settings, tmp_path: Path) -> None:
    port = _free_port()
    log = deployment.data_dir / "server.log"
    env = {**os.environ, "CARDSHIELD_DATA_DIR": str(deployment.data_dir)}
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [CLI, "--log-level", "INFO", "serve", "--port", str(port)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        report = build_report(deployment, now=datetime.now(UTC), server=base)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    canary = report["canary"]
    assert canary["verdict"] == "PASS", canary
    assert canary["mode"] == f"live server {base}"
    assert {s["name"] for s in canary["flows"]["steps"]} >= {"POST /v1/tokens", "POST /v1/refunds"}
    access = [
        json.loads(line) for line in log.read_text().splitlines() if "cardshield.access" in line
    ]
    # the server's access log was there to scan
    assert any(a["method"] == "POST" and a["path"] == "/v1/tokens" for a in access), access
    # Hosted fields, API, Twilio's connector and Connect's Lambda through the live server;
    # the IVR call in the report's process.
    for path in ("/v1/phone/twilio/pay-connector", "/v1/phone/amazon-connect/tokens"):
        assert any(a["method"] == "POST" and a["path"] == path for a in access), path
    platform = [s for s in canary["flows"]["steps"] if s["channel"] in PLATFORMS]
    assert len(platform) == 2 and all(s["ok"] for s in platform), platform
    assert canary["cleanup"]["cards_removed"] == 5
    assert "IVR call keyed, tokenized and charged" in {s["name"] for s in canary["flows"]["steps"]}
