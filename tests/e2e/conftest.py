"""``cardshield demo`` as a shopper meets it: the command started as a subprocess on free
loopback ports with a temporary data folder, and Debian's Chromium driven by Playwright
(the browser fixtures come from the hosted-fields browser tests)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.browser.conftest import artifacts, browser, open_page  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    # Tall enough that the shop's checkout fits without scrolling. After a full-page
    # screenshot of a taller, scrolled page, a click on Pay can be routed by the browser to
    # where the card frame stood in the full-height layout: the press lands in the number
    # field and Pay never hears it (seen 2 times in 58 checkouts on a loaded machine, and
    # 0 in 87 with this window).
    with open_page(browser, 640, 900) as page:
        yield page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


class Demo:
    """One data folder and two ports; ``start`` and ``stop`` the demo as often as needed."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port, self.shop_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.shop = f"http://localhost:{self.shop_port}"
        self.logs: list[Path] = []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        script = Path(sys.executable).with_name("cardshield")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "cardshield"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
        env["PYTHONUNBUFFERED"] = "1"
        log = self.data_dir.parent / f"demo-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as sink:
            # Run from another folder than the source tree: the demo finds its shop itself.
            self.proc = subprocess.Popen(
                [
                    *command,
                    *("--log-level", "DEBUG", "demo", "--no-banner"),
                    *("--data-dir", str(self.data_dir)),
                    *("--port", str(self.port), "--shop-port", str(self.shop_port)),
                ],
                cwd=self.data_dir.parent,
                env=env,
                stdout=sink,
                stderr=sink,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"cardshield demo exited early:\n{self.log_text()[-3000:]}")
            if _up(self.api + "/readyz") and _up(self.shop + "/healthz"):
                return
            time.sleep(0.2)
        pytest.fail(f"cardshield demo did not become ready:\n{self.log_text()[-3000:]}")

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C, as a person at the terminal would stop it; returns the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        finally:
            self.proc = None

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.data_dir / "demo.json").read_text())
        return data

    def api_get(self, path: str) -> Any:
        request = urllib.request.Request(
            self.api + path, headers={"Authorization": f"Bearer {self.state()['secret_key']}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            return json.loads(resp.read())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("demo") / ".cardshield")
    running.start()
    try:
        yield running
    finally:
        if running.proc is not None:
            running.proc.kill()
            running.proc.wait()
