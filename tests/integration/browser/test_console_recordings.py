"""The recordings review page in a real browser (Debian's Chromium through Playwright),
against ``cardshield serve``'s app in its own process with ``redaction_review_dir`` set.

An auditor made with ``cardshield users add`` signs in, opens the recordings page, then a
stereo call whose caller keyed a card number: both waveforms and the cut span are drawn and
visible, the ``<audio>`` element loads the served WAV (its metadata, so its duration is
known), an unsure cut on another call is drawn differently from a sure one, the console's
CSP refuses nothing, and a screenshot of the page is not blank (its pixels are decoded here).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cardshield.config import Settings
from cardshield.crypto.kms import init_kms
from cardshield.storage import make_engine, upgrade
from tests.conftest import assert_no_card_data
from tests.integration.browser.conftest import open_page, sign_in_and_enroll
from tests.servers import free_port, traced_app
from tests.unit.web.console.recording_calls import CANARY, KEYED, QUIET, redacted_folder

pytestmark = pytest.mark.integration

PASSWORD = "harbour-quartz-meadow-47"
# What Chromium reports when a policy refuses something (console message or event).
_CSP_WORDS = ("Content Security Policy", "Refused to")


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    review: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("review")
    _, review = redacted_folder(root)
    data_dir = root / "data"
    settings = Settings(data_dir=data_dir)
    data_dir.mkdir()
    init_kms(settings.effective_kms_url).close()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    env = {
        **os.environ,
        "CARDSHIELD_DATA_DIR": str(data_dir),
        "CARDSHIELD_REDACTION_REVIEW_DIR": str(review),
        "CARDSHIELD_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    added = subprocess.run(
        [sys.executable, "-m", "cardshield", "users", "add", "rec.auditor", "--role", "auditor",
         "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    log = root / "server.log"
    with traced_app(env, log, free_port()) as url:
        yield Server(url, log, review)


def png_pixels(blob: bytes) -> np.ndarray:
    """(height, width, channels) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(blob):
        size, kind = struct.unpack(">I4s", blob[pos : pos + 8])
        body = blob[pos + 8 : pos + 8 + size]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + size
    assert depth == 8 and color in (2, 6) and interlace == 0
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind_of_filter = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride) if kind_of_filter else ():
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind_of_filter == 1:
                line[i] = (line[i] + a) & 255
            elif kind_of_filter == 2:
                line[i] = (line[i] + b) & 255
            elif kind_of_filter == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            else:  # Paeth
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, bpp)


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/console/recordings")
    assert "/console/login" in page.url
    sign_in_and_enroll(page, base, "rec.auditor", PASSWORD)
    page.wait_for_url("**/console/**")


def test_an_auditor_reviews_a_redacted_call(server: Server, browser: Any, tmp_path: Path) -> None:
    with open_page(browser, width=1100, height=900) as page:
        messages: list[str] = []
        page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
        page.add_init_script(
            "window.__csp = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        _sign_in(page, server.url)
        page.goto(f"{server.url}/console/recordings")
        assert page.locator("header nav a[aria-current=page]").inner_text() == "Recordings"
        assert page.locator("#recordings tbody tr").count() == 5
        assert "5 files, 1 failed" in page.locator("#recordings-totals").inner_text()
        seen = [page.content()]

        page.click(f"a[href='/console/recordings/{KEYED}']")
        page.wait_for_url(f"**/console/recordings/{KEYED}")
        waves = page.locator("svg.waveform")
        assert waves.count() == 2
        for i in range(2):
            assert waves.nth(i).is_visible()
            box = waves.nth(i).bounding_box()
            assert box is not None and box["width"] > 500 and box["height"] > 80
            assert waves.nth(i).locator("path.wave").is_visible()
        cut = page.locator("#channel-2 svg rect.cut.dtmf")
        assert cut.count() == 1 and cut.is_visible()
        assert page.locator("#channel-1 svg rect.cut").count() == 0
        label = page.locator("#channel-2 svg text.cut-label")
        assert label.is_visible() and label.inner_html() == "dtmf · keyed · 1.00"
        # The CSS reached the drawing: the cut is filled with the DTMF colour, see-through.
        fill = cut.evaluate("el => [getComputedStyle(el).fill, getComputedStyle(el).fillOpacity]")
        assert fill[0] not in ("", "none", "rgb(0, 0, 0)") and float(fill[1]) < 1

        page.wait_for_function(
            "document.querySelector('#recording-audio').readyState >= 1", timeout=20_000
        )
        audio = page.evaluate(
            "(() => { const a = document.querySelector('#recording-audio');"
            " return {state: a.readyState, duration: a.duration, error: a.error && a.error.code,"
            " src: a.currentSrc}; })()"
        )
        assert audio["error"] is None, audio
        assert audio["state"] >= 1 and 4.0 < audio["duration"] < 5.0, audio
        assert audio["src"].endswith(f"/console/recordings/{KEYED}/audio")
        seen.append(page.content())

        shot = tmp_path / "console-recording.png"
        page.screenshot(path=str(shot), full_page=True)
        pixels = png_pixels(shot.read_bytes())
        size = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollHeight]")
        assert pixels.shape[1] == size[0] and pixels.shape[0] >= 600
        grey = pixels[..., :3].astype(np.float64).mean(axis=2)
        assert grey.std() > 10  # not one flat colour
        figure = png_pixels(page.locator("#channel-2").screenshot())
        colours = {tuple(px) for px in figure[..., :3].reshape(-1, 3)[::7]}
        assert len(colours) > 8  # wave ink, background, the cut's fill, text

        # An unsure cut is drawn apart from a sure one: dashed outline, another fill.
        page.goto(f"{server.url}/console/recordings/{QUIET}")
        unsure = page.locator("svg.waveform rect.cut.unsure")
        assert unsure.count() == 1 and unsure.is_visible()
        look = unsure.evaluate(
            "el => [getComputedStyle(el).strokeDasharray, getComputedStyle(el).fill]"
        )
        assert look[0] not in ("", "none") and look[1] != fill[0], look
        assert "unsure" in page.locator("svg.waveform text.cut-label.unsure").inner_html()
        page.screenshot(path=str(tmp_path / "console-recording-unsure.png"), full_page=True)
        seen.append(page.content())

        violations = page.evaluate("window.__csp")
        assert violations == [], violations
        refused = [m for m in messages if any(w in m for w in _CSP_WORDS)]
        assert refused == [], refused
    for html in seen:
        assert_no_card_data(html, pans=(CANARY,))
    assert_no_card_data(server.log.read_text(errors="replace"), pans=(CANARY,))
