"""The console's review page for redacted recordings (auditors and admins).

The recordings are generated calls redacted by the real batch (``run_batch``), so the page
reads a report the CLI wrote: the table and its totals, one waveform per channel with the
cut spans on it, the redacted audio served as 16-bit PCM WAV, and nothing else. Names that
are not the report's (traversal, absolute paths, the report itself, a link out of the
folder) are 404; roles without reports:view are refused; a missing or broken report is a
message. No page and no audio byte holds the canary card number, and the served audio has
no DTMF left in it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from sqlalchemy import select

from cardshield.config import load_settings
from cardshield.phone.dsp import Audio, detect, read_wav
from cardshield.redaction.audio import Segment
from cardshield.redaction.batch import REPORT_JSON, BatchReport, FileResult
from cardshield.security.permissions import Role
from cardshield.storage.schema import audit_log
from cardshield.web.console.pages.recordings import ENV_NAME, RecordingNotFound, load_review
from cardshield.web.console.routing import DENIED_HEADER
from cardshield.web.console.waveform import COLUMNS, envelope, waveform_svg
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.web.console.recording_calls import (
    BROKEN,
    CANARY,
    CARD_NAMED,
    KEYED,
    QUIET,
    WIDE,
    redacted_folder,
)
from tests.unit.web.console.support import Console, build_console

PANS = (CANARY, CANARY_PAN)
Clients = dict[Role, TestClient]
_CUT = re.compile(r'<rect class="cut (dtmf|speech|other)( unsure)?"')


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    c = build_console(f"sqlite:///{tmp_path_factory.mktemp('recordings')}/c.db")
    with c.client():
        yield c
    c.engine.dispose()


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return redacted_folder(tmp_path_factory.mktemp("calls"))


@pytest.fixture(autouse=True)
def _fresh_limits(console: Console) -> None:
    console.services.limiter.reset()


@contextmanager
def reviewing(c: Console, folder: Path | None) -> Iterator[None]:
    """The console with ``redaction_review_dir`` set to ``folder`` for a while."""
    before = c.runtime.settings
    c.runtime.settings = before.model_copy(update={"redaction_review_dir": folder})
    try:
        yield
    finally:
        c.runtime.settings = before


@pytest.fixture
def out(console: Console, folders: tuple[Path, Path]) -> Iterator[Path]:
    with reviewing(console, folders[1]):
        yield folders[1]


@pytest.fixture(scope="module")
def clients() -> Clients:
    return {}


def signed_in(c: Console, role: Role, clients: Clients) -> TestClient:
    """One signed-in client per role for the module (signing in enrolls TOTP: slow)."""
    if role not in clients:
        username = f"rec-{role.value}"
        c.add_operator(username, role)
        clients[role] = c.client()
        c.sign_in(clients[role], username)
    return clients[role]


def _report(out: Path) -> BatchReport:
    doc = json.loads((out / REPORT_JSON).read_text())
    return BatchReport([FileResult.from_dict(r) for r in doc["files"]], model=doc["model"])


def _cell_texts(row_html: str) -> list[str]:
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def test_the_report_as_a_table_with_totals(console: Console, out: Path, clients: Clients) -> None:
    page = signed_in(console, Role.AUDITOR, clients).get("/console/recordings")
    assert page.status_code == 200, page.text
    assert 'href="/console/recordings" aria-current="page"' in page.text  # the nav link
    assert 'id="recordings-model">none (DTMF only)<' in page.text
    report = _report(out)
    body = page.text.split("<tbody>")[1].split("</tbody>")[0]
    rows = {cells[0].split(" ")[0]: cells for cells in map(_cell_texts, body.split("</tr>")[:-1])}
    keyed = next(f for f in report.files if f.file == KEYED)
    dtmf = sum(s.seconds for s in keyed.segments)
    assert keyed.segments and all(s.reason == "dtmf" and s.channel == 1 for s in keyed.segments)
    assert rows[KEYED][1:] == [
        f"{keyed.duration_ms / 1000:.1f}", str(len(keyed.segments)), f"{dtmf:.1f}", "0.0", "0",
        "done",
    ]  # fmt: skip
    assert rows[QUIET][1:] == ["2.0", "1", "0.0", "0.5", "1", "done"]
    assert rows[BROKEN][2:6] == ["0", "0.0", "0.0", "0"]
    assert rows[BROKEN][6].startswith("error") and _unreadable(rows[BROKEN][6])
    for name in (KEYED, WIDE, QUIET, BROKEN):
        assert f'href="/console/recordings/{name}"' in body
    totals = _cell_texts(page.text.split('id="recordings-totals">')[1].split("</tr>")[0])
    folder = report.totals()
    by = folder["by_reason"]
    assert isinstance(by, dict)
    duration = sum(f.duration_ms for f in report.files) / 1000
    assert totals == [
        "5 files, 1 failed", f"{duration:.1f}", str(folder["spans"]), f"{by['dtmf']:.1f}",
        f"{by['speech']:.1f}", "1", "",
    ]  # fmt: skip


def test_a_file_page_draws_each_channel_with_its_cuts(
    console: Console, out: Path, clients: Clients
) -> None:
    client = signed_in(console, Role.ADMIN, clients)
    page = client.get(f"/console/recordings/{KEYED}")
    assert page.status_code == 200, page.text
    keyed = next(f for f in _report(out).files if f.file == KEYED)
    svgs = re.findall(r'<svg class="waveform".*?</svg>', page.text, re.S)
    assert [re.findall(r'data-channel="(\d)"', s) for s in svgs] == [["0"], ["1"]]
    assert _CUT.findall(svgs[0]) == []  # the agent's leg: nothing keyed there
    assert _CUT.findall(svgs[1]) == [("dtmf", "")] * len(keyed.segments)
    assert "dtmf · keyed · 1.00" in svgs[1]  # each cut is labelled on the drawing
    spans = page.text.split('id="recording-spans"')[1].split("</table>")[0]
    assert spans.count("<tr") == len(keyed.segments) + 1  # + the header row
    assert f'src="/console/recordings/{KEYED}/audio"' in page.text
    assert re.search(r"<audio[^>]*\bcontrols\b", page.text)
    assert "<style" not in page.text and " style=" not in page.text  # the CSP allows no inline
    assert "<script>" not in page.text

    mono = client.get(f"/console/recordings/{QUIET}")
    svgs = re.findall(r'<svg class="waveform".*?</svg>', mono.text, re.S)
    assert len(svgs) == 1
    assert _CUT.findall(svgs[0]) == [("speech", " unsure")]  # drawn apart from sure cuts
    assert "speech · code · 0.40 · unsure" in svgs[0]
    assert 'class="cut-label unsure"' in svgs[0]
    assert '<tr class="unsure">' in mono.text

    broken = client.get(f"/console/recordings/{BROKEN}")
    assert broken.status_code == 200
    assert _unreadable(broken.text)
    assert "<svg" not in broken.text and "<audio" not in broken.text


def test_the_audio_is_the_redacted_file_as_pcm_wav(
    console: Console, out: Path, clients: Clients
) -> None:
    client = signed_in(console, Role.AUDITOR, clients)
    for name in (KEYED, QUIET):
        served = client.get(f"/console/recordings/{name}/audio")
        assert served.status_code == 200, served.text
        assert served.headers["content-type"] == "audio/wav"
        assert served.headers["cache-control"] == "no-store"
        assert "media-src 'self'" in served.headers["content-security-policy"]
        audio = read_wav(served.content)
        redacted = read_wav(out / name)
        assert audio.encoding == "pcm16"
        assert (audio.sample_rate, audio.channels) == (redacted.sample_rate, redacted.channels)
        assert np.array_equal(audio.data, redacted.linear())
    assert read_wav(out / KEYED).encoding == "mulaw"  # transcoded, not passed through

    whole = client.get(f"/console/recordings/{KEYED}/audio").content
    part = client.get(f"/console/recordings/{KEYED}/audio", headers={"range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == whole[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(whole)}"
    tail = client.get(f"/console/recordings/{KEYED}/audio", headers={"range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole[-10:]
    past = client.get(
        f"/console/recordings/{KEYED}/audio", headers={"range": f"bytes={len(whole)}-"}
    )
    assert past.status_code == 416
    assert client.get(f"/console/recordings/{BROKEN}/audio").status_code == 404


def test_a_flac_recording_plays_as_its_top_16_bits_without_the_tones(
    console: Console, out: Path, clients: Clients
) -> None:
    client = signed_in(console, Role.AUDITOR, clients)
    page = client.get(f"/console/recordings/{WIDE}")
    assert page.status_code == 200, page.text
    assert len(re.findall(r'<svg class="waveform"', page.text)) == 2
    served = client.get(f"/console/recordings/{WIDE}/audio")
    assert served.status_code == 200
    audio = read_wav(served.content)
    stored, rate = sf.read(out / WIDE, dtype="int32", always_2d=True)
    assert rate == audio.sample_rate == 8000
    assert np.array_equal(audio.data, (stored >> 16).astype(np.int16))
    wide = next(f for f in _report(out).files if f.file == WIDE)
    assert wide.segments and all(s.channel == 1 for s in wide.segments)
    assert detect(audio.data[:, 1], 8000) == []


def _entries(console: Console, action: str) -> list[tuple[str, str | None]]:
    with console.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.target)
            .where(audit_log.c.action == action)
            .order_by(audit_log.c.seq)
        )
        return [(r.actor, r.target) for r in rows]


def test_each_view_and_each_playback_is_audited(
    console: Console, out: Path, clients: Clients
) -> None:
    client = signed_in(console, Role.AUDITOR, clients)
    viewed = len(_entries(console, "console.recording_viewed"))
    played = len(_entries(console, "console.recording_played"))
    assert client.get(f"/console/recordings/{KEYED}").status_code == 200
    after = _entries(console, "console.recording_viewed")
    assert len(after) == viewed + 1
    actor, target = after[-1]
    assert actor.startswith("operator:") and target == KEYED
    # A player's first request and its seeks: one playback, however many ranges follow.
    url = f"/console/recordings/{KEYED}/audio"
    assert client.get(url, headers={"range": "bytes=0-"}).status_code == 206
    assert client.get(url, headers={"range": "bytes=4000-"}).status_code == 206
    assert client.get(url, headers={"range": "bytes=-10"}).status_code == 206
    plays = _entries(console, "console.recording_played")
    assert len(plays) == played + 1 and plays[-1] == (actor, KEYED)
    assert client.get(url).status_code == 200
    assert len(_entries(console, "console.recording_played")) == played + 2
    # Names outside the report are refused before anything is recorded.
    assert client.get("/console/recordings/nope.wav").status_code == 404
    assert len(_entries(console, "console.recording_viewed")) == viewed + 1


def test_only_names_in_the_report_resolve(console: Console, out: Path, clients: Clients) -> None:
    client = signed_in(console, Role.AUDITOR, clients)
    source = out.parent / "source"
    assert (source / KEYED).is_file()  # what a traversal would be after
    outside = str((source / KEYED).resolve()).lstrip("/")
    for tail in (
        "../source/day1/keyed.wav",
        "../../etc/passwd",
        "%2e%2e/source/day1/keyed.wav",
        "%2e%2e%2fsource%2fday1%2fkeyed.wav",
        "day1/%2e%2e/%2e%2e/source/day1/keyed.wav",
        "%2E%2E/%2E%2E/etc/passwd",
        f"/{outside}",
        f"%2F{outside}",
        "/etc/passwd",
        "day1/keyed.wav%00",
        "day1\\keyed.wav",
        "day1//keyed.wav",
        "%2e/quiet.wav",
        "nope.wav",
        "day1",
        REPORT_JSON,
        "redaction-report.csv",
    ):
        for suffix in ("", "/audio"):
            url = f"/console/recordings/{tail}{suffix}"
            response = client.get(url)
            assert response.status_code == 404, url
            assert b"RIFF" not in response.content[:4], url
    review = load_review(out)
    for name in ("../source/day1/keyed.wav", "/etc/passwd", str(source / KEYED), "", "."):
        with pytest.raises(RecordingNotFound):
            review.entry(name)
    assert review.entry(KEYED)[1] == (out / KEYED).resolve()


def test_a_tampered_report_cannot_reach_out_of_the_folder(
    console: Console, folders: tuple[Path, Path], tmp_path: Path, clients: Clients
) -> None:
    """Names listed in the report still have to lie inside the folder once resolved."""
    source = folders[0]
    out = tmp_path / "out"
    out.mkdir()
    (out / "linked.wav").symlink_to(source / KEYED)
    (out / "inner").mkdir()
    (out / "inner" / "ok.wav").write_bytes((folders[1] / QUIET).read_bytes())
    rows = [
        {"file": name, "sha256": "0" * 64, "status": "done", "duration_ms": 1000, "segments": []}
        for name in ("../source/day1/keyed.wav", str(source / KEYED), "linked.wav", "inner/ok.wav")
    ]
    (out / REPORT_JSON).write_text(json.dumps({"model": "m", "files": rows}))
    client = signed_in(console, Role.AUDITOR, clients)
    with reviewing(console, out):
        index = client.get("/console/recordings")
        assert index.status_code == 200
        assert 'href="/console/recordings/inner/ok.wav"' in index.text
        for name in ("../source/day1/keyed.wav", str(source / KEYED)):
            assert f'href="/console/recordings/{name}"' not in index.text
        for name in (
            "..%2fsource%2fday1%2fkeyed.wav",
            f"%2F{str(source / KEYED)[1:]}",
            "linked.wav",
        ):
            for suffix in ("", "/audio"):
                assert client.get(f"/console/recordings/{name}{suffix}").status_code == 404
        assert client.get("/console/recordings/inner/ok.wav/audio").status_code == 200


def test_roles_without_reports_view_are_refused(
    console: Console, out: Path, clients: Clients
) -> None:
    for role in (Role.OPERATOR, Role.AGENT, Role.DEVELOPER):
        client = signed_in(console, role, clients)
        assert 'href="/console/recordings"' not in client.get("/console/account").text
        for url in (
            "/console/recordings",
            f"/console/recordings/{KEYED}",
            f"/console/recordings/{KEYED}/audio",
            "/console/recordings/nope.wav",
        ):
            response = client.get(url)
            assert response.status_code == 403, url
            assert response.headers[DENIED_HEADER] == "permission"
            assert b"RIFF" not in response.content and "waveform" not in response.text
    anonymous = console.client().get(f"/console/recordings/{KEYED}/audio", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/console/login?next=/console/recordings/{KEYED}/audio"


def test_no_folder_or_no_report_is_a_message(
    console: Console, tmp_path: Path, clients: Clients
) -> None:
    client = signed_in(console, Role.AUDITOR, clients)
    with reviewing(console, None):
        page = client.get("/console/recordings")
        assert page.status_code == 200
        assert 'id="recordings-unset"' in page.text and ENV_NAME in page.text
        assert ENV_NAME == "CARDSHIELD_REDACTION_REVIEW_DIR"
        assert client.get(f"/console/recordings/{KEYED}").status_code == 404
    cases = {
        "empty": (None, "There is no redaction-report.json"),
        "not-json": ("{not json", "is not valid JSON"),
        "wrong-shape": ('{"files": {"a": 1}}', "is not a redaction report"),
        "bad-row": ('{"files": [{"file": "a.wav"}]}', "is not a redaction report"),
        "bad-span": (
            '{"files": [{"file": "a.wav", "sha256": "", "status": "done",'
            ' "segments": [{"start_ms": "soon"}]}]}',
            "is not a redaction report",
        ),
        "a-list": ("[1, 2]", "is not a redaction report"),
    }
    for name, (text, message) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        if text is not None:
            (folder / REPORT_JSON).write_text(text)
        with reviewing(console, folder):
            page = client.get("/console/recordings")
            assert page.status_code == 200, name
            problem = page.text.split('id="recordings-problem"')[1].split("</p>")[0]
            assert message in html.unescape(problem), name
            assert 'id="recordings"' not in page.text
            assert client.get("/console/recordings/a.wav").status_code == 404
    with reviewing(console, tmp_path / "no-such-folder"):
        page = client.get("/console/recordings")
        assert page.status_code == 200 and 'id="recordings-problem"' in page.text


def test_a_listed_file_missing_from_the_folder(
    console: Console, tmp_path: Path, clients: Clients
) -> None:
    row = {"file": "gone.wav", "sha256": "", "status": "done", "duration_ms": 5, "segments": []}
    (tmp_path / REPORT_JSON).write_text(json.dumps({"model": "m", "files": [row]}))
    client = signed_in(console, Role.AUDITOR, clients)
    with reviewing(console, tmp_path):
        page = client.get("/console/recordings/gone.wav")
        assert page.status_code == 200
        assert 'id="recording-problem"' in page.text and "<audio" not in page.text
        assert client.get("/console/recordings/gone.wav/audio").status_code == 404


def test_no_page_and_no_audio_byte_holds_the_card_number(
    console: Console, folders: tuple[Path, Path], clients: Clients
) -> None:
    source, out = folders
    keyed_source = read_wav(source / KEYED).linear()
    heard = "".join(e.digit for e in detect(keyed_source[:, 1], 8000))
    assert CANARY in heard  # the source recording does hold it, as tones
    client = signed_in(console, Role.ADMIN, clients)
    seen: list[bytes] = []
    with reviewing(console, out):
        index = client.get("/console/recordings")
        seen.append(index.content)
        assert "card-411111******1111.wav" in index.text  # masked, and not linked
        assert 'href="/console/recordings/card-' not in index.text
        links = re.findall(r'href="(/console/recordings/[^"]+)"', index.text)
        assert len(links) == 4
        for link in links:
            page = client.get(link)
            assert page.status_code == 200
            seen.append(page.content)
            audio = client.get(link + "/audio")
            seen.append(audio.content)
            if audio.status_code == 200:
                served = read_wav(audio.content)
                for ch in range(served.channels):
                    assert detect(served.data[:, ch], served.sample_rate) == [], link
        for url in (f"/console/recordings/{CARD_NAMED}", f"/console/recordings/{CARD_NAMED}/audio"):
            refused = client.get(url)
            assert refused.status_code == 404
            seen.append(refused.content)
    assert len(seen) == 11
    for blob in seen:
        assert_no_card_data(blob, pans=PANS)
        assert_no_card_data(blob.decode("latin-1"), pans=PANS)


def test_the_envelope_and_the_drawing() -> None:
    x = np.zeros(8000, dtype=np.int16)
    x[4000] = 1000
    x[6000] = -2000
    env = envelope(x)
    assert env.shape == (COLUMNS, 2)
    assert env[:, 1].max() == 1000 and env[:, 0].min() == -2000
    assert envelope(np.arange(5, dtype=np.int16)).tolist() == [[i, i] for i in range(5)]
    assert envelope(np.zeros(0, dtype=np.int16)).shape == (0, 2)
    cuts = [
        Segment(0, 250, "dtmf", 1.0, 0, False, "keyed"),
        Segment(500, 1000, "speech", 0.2, 0, True, 'pan"><script>'),
    ]
    svg = waveform_svg(x, 8000, cuts, channel=0)
    assert svg.count('<rect class="cut') == 2
    assert 'x="0.0" y="30" width="180.0"' in svg  # 0-250 ms of 1 s on 720 units
    assert 'x="360.0" y="30" width="360.0"' in svg
    assert "<script" not in svg and "speech · panscript · 0.20 · unsure" in svg
    empty = waveform_svg(np.zeros(0, dtype=np.int16), 8000, [], channel=1)
    assert "no audio" in empty and 'data-channel="1"' in empty
    assert Audio.from_linear(x, 8000).channels == 1


def test_the_setting_names_the_folder_and_empty_turns_the_page_off(tmp_path: Path) -> None:
    assert load_settings(env={}).redaction_review_dir is None
    assert load_settings(env={ENV_NAME: ""}).redaction_review_dir is None
    assert load_settings(env={ENV_NAME: str(tmp_path)}).redaction_review_dir == tmp_path
    config = tmp_path / "cardshield.toml"
    config.write_text(f'redaction_review_dir = "{tmp_path / "out"}"\n')
    assert load_settings(config, env={}).redaction_review_dir == tmp_path / "out"


def _unreadable(text: str) -> bool:
    """The reader's one-line reason for a file that is no recording (WAV reader or the
    multi-format one)."""
    return "not a WAV file" in text or "not a supported recording" in text
