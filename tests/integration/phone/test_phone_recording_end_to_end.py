"""Recordings written by the test hold no card data: a whole agent-assisted call over Twilio
Media Streams on PostgreSQL (espeak-ng speech, the expiry and number keyed as in-band DTMF,
the security code as ``dtmf`` messages) is captured, tokenized and charged, and the audio the
transport returns toward the agent is written as a WAV recording, as a recorder on the agent
leg would. That recording is then examined like any file that may hold card data:

* the project's DTMF detector and multimon-ng hear no digit in it (the caller's own audio,
  written beside it as a control, is full of digits both find);
* ``cardshield scan`` (the discovery scanner) finds no card number in the recording folder,
  which also holds the test's log capture (the same scan finds the canary in a control file);
* a byte search finds neither the canary number nor, outside the audio samples, the code.
"""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from cardshield.compliance.report.flows import captured_logs
from cardshield.phone.dsp import g711
from cardshield.phone.dsp.goertzel.detector import detect
from cardshield.phone.dsp.wav import Audio, read_wav, write_wav
from cardshield.phone.twilio_signature import sign
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.databases import postgres_database
from tests.unit.phone.conftest import multimon_hears, require_tool
from tests.unit.phone.ivr.harness import AUTH_TOKEN, Phone, phone_world
from tests.unit.phone.transports.test_media_streams import (
    CALL,
    FRAME,
    MEDIA_URL,
    agent_session,
    keyed,
    media,
    open_agent,
    speech,
    until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def phone(caplog: pytest.LogCaptureFixture) -> Iterator[Phone]:
    for url in postgres_database():
        yield from phone_world(url, caplog)


def play_call(phone: Phone, codes: NDArray[np.uint8], oob_at: int) -> bytes:
    """The caller's side of the stream; returns the mu-law the transport sent toward the agent."""
    returned: list[bytes] = []
    headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, MEDIA_URL, {})}
    with phone.client.websocket_connect("/phone/twilio/media", headers=headers) as ws:
        start = {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ1",
            "start": {
                "streamSid": "MZ1",
                "callSid": CALL,
                "tracks": ["inbound"],
                "customParameters": {},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
        ws.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send_text(json.dumps(start))
        for n, i in enumerate(range(0, len(codes) - FRAME + 1, FRAME)):
            if i == oob_at - oob_at % FRAME:
                for digit in CANARY_CVV + "#":
                    msg = {"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": digit}}
                    ws.send_text(json.dumps(msg))
            ws.send_text(json.dumps(media(codes[i : i + FRAME], n)))
            returned.append(base64.b64decode(json.loads(ws.receive_text())["media"]["payload"]))
        ws.send_text(json.dumps({"event": "stop", "streamSid": "MZ1"}))
        returned.append(base64.b64decode(json.loads(ws.receive_text())["media"]["payload"]))
    return b"".join(returned)


def dtmf_heard(multimon: str, wav: Path) -> list[str]:
    """What multimon-ng decodes as DTMF in a recording (it wants 22.05 kHz raw samples)."""
    out = multimon_hears(multimon, read_wav(wav).linear()[:, 0].astype(np.float64))
    return [line for line in out.splitlines() if line.startswith("DTMF")]


def scan(path: Path) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "cardshield", "scan", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def outside_samples(blob: bytes) -> bytes:
    """The WAV file without its ``data`` chunk's payload (header and any other chunk)."""
    at = blob.index(b"data", 12)
    (size,) = struct.unpack("<I", blob[at + 4 : at + 8])
    return blob[: at + 8] + blob[at + 8 + size :]


def test_the_agent_side_recording_of_a_call_holds_no_card_data(
    phone: Phone, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    multimon = require_tool("multimon-ng")
    talk = speech(tmp_path)
    token, csrf = agent_session(phone)
    audio = np.concatenate(
        [talk[0], keyed("1230#"), keyed(CANARY_PAN + "#"), np.zeros(8000, np.int16), talk[1]]
    )
    codes = g711.encode(audio, "mulaw")
    oob_at = len(talk[0]) + len(keyed("1230#")) + len(keyed(CANARY_PAN + "#")) + 4000
    # The process's own logging configuration (redacting, JSON) writes the test's log capture.
    with captured_logs() as logs, open_agent(phone, token, csrf) as agent:
        agent.send_text(json.dumps({"action": "start"}))
        until(agent, lambda v: v.get("step") == "expiry")
        toward_agent = play_call(phone, codes, oob_at)
        ready = until(agent, lambda v: v.get("ready"))
        assert ready["fields"]["card"]["status"] == "valid"  # the digits were captured
        agent.send_text(json.dumps({"action": "charge", "amount": 2599, "currency": "EUR"}))
        assert until(agent, lambda v: v.get("outcome") is not None)["outcome"] == "approved"
    log_text = logs.getvalue() + caplog.text

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    recording = recordings / "agent-leg.wav"
    agent_codes = np.frombuffer(toward_agent, np.uint8)
    write_wav(recording, Audio(data=agent_codes[:, None], sample_rate=8000, encoding="mulaw"))
    control = tmp_path / "control"
    control.mkdir()
    caller = control / "caller-leg.wav"
    write_wav(caller, Audio(data=codes[:, None], sample_rate=8000, encoding="mulaw"))

    # By ear: the caller's leg is full of digits, the recorded agent leg has none...
    assert len(detect(read_wav(caller).linear()[:, 0].astype(np.float64))) >= 20
    assert len(dtmf_heard(multimon, caller)) >= 20
    written = read_wav(recording)
    assert written.frames == agent_codes.size > 8000 * 5  # the whole call was recorded
    assert detect(written.linear()[:, 0].astype(np.float64)) == []
    assert dtmf_heard(multimon, recording) == []
    # ...while the speech in it is still there (the recording is not just silence).
    assert np.std(written.linear()[: len(talk[0]), 0]) > 100

    # The discovery scanner over the recording and the log capture: nothing.
    log_file = recordings / "test.log"
    log_file.write_text(log_text)
    assert "phone.stream.stop" in log_text  # the capture really logged the call
    rc, report = scan(recordings)
    assert (rc, report["findings"]) == (0, []), report
    assert report["stats"]["files"] == 2 and report["stats"]["skipped"] == 0, report["stats"]
    (control / "leak.log").write_text(f"{log_text}\ncard {CANARY_PAN}\n")
    rc, report = scan(control)
    assert rc == 1 and [f["masked"][-4:] for f in report["findings"]] == [CANARY_PAN[-4:]]

    # Byte search: the number nowhere in the recording or the logs; the code nowhere outside
    # the audio samples (in samples any three bytes can occur by chance: heard above instead).
    blob = recording.read_bytes()
    for pan in (CANARY_PAN.encode(), CANARY_PAN.encode("utf-16-le")):
        assert pan not in blob
    assert_no_card_data(blob)
    assert CANARY_CVV.encode() not in outside_samples(blob)
    assert_no_card_data(log_file.read_bytes())
    assert_no_cvv(log_text, CANARY_CVV)
