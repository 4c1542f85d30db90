"""The canary flows: card data in through every channel, against a scratch merchant.

The flows run through the deployment's own database and key provider, in this process:
hosted fields (``POST /v1/tokens`` with a publishable key, through the real FastAPI app),
the server API (a payment on the token, then a refund), the voice platforms' requests
(Twilio's Generic Pay Connector, Amazon Connect's Lambda; see
:mod:`cardshield.compliance.report.platform_flows`) and the phone: a self-service IVR
call (the canary keyed into the deployment's IVR, tokenized at once and charged; there is
no Twilio call, so the recording pauses are noted rather than sent) and agent-assisted
keying (the canary keyed as DTMF, masked by the agent-leg masker; the masked audio is the
"recording"). Payments go
to the built-in sandbox processor whatever connector is configured, so a canary never
reaches a real processor. Everything the flows produce (HTTP answers, log lines, events,
the recording and its transcript) is kept for the leak scan.
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import structlog

from cardshield.cards import Expiry
from cardshield.compliance.report.canary import Canary
from cardshield.compliance.report.errors import ReportError
from cardshield.compliance.report.platform_flows import (
    CONNECT_PATH,
    PAY_CONNECTOR_PATH,
    connect_flow,
    pay_connector_flow,
)
from cardshield.config import Settings
from cardshield.gateways import get_connector
from cardshield.gateways.sandbox import account_for
from cardshield.payments.service import PaymentService
from cardshield.phone.dsp import Audio, StreamMasker, detect, generate
from cardshield.phone.dsp.wav import wav_bytes
from cardshield.phone.ivr.flow import IvrFlow
from cardshield.phone.ivr.service import capture_for
from cardshield.phone.live import call_store
from cardshield.redaction.logging import configure_logging
from cardshield.runtime import Runtime, open_runtime
from cardshield.security.apikeys import SCOPES, create_key

SCRATCH_PREFIX = "cardshield-canary"
CANARY_ORIGIN = "https://canary.example"
_RATE = 8000


@dataclass
class Step:
    """One request or action of a flow: what ran and whether it worked (no card data)."""

    channel: str
    name: str
    ok: bool
    detail: str


@dataclass
class FlowRun:
    """What the flows produced, for the leak scan and the report."""

    merchant_id: str
    started_at: datetime
    steps: list[Step] = field(default_factory=list)
    responses: list[tuple[str, bytes]] = field(default_factory=list)
    logs: bytes = b""
    recording: bytes = b""  # the masked phone audio (WAV)
    transcript: str = ""  # digits the detector still hears in the masked audio
    digits_masked: int = 0
    tokens: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "merchant_id": self.merchant_id,
            "steps": [s.__dict__ for s in self.steps],
            "log_bytes": len(self.logs),
            "recording_bytes": len(self.recording),
            "digits_masked": self.digits_masked,
            "digits_heard_after_masking": len(self.transcript),
        }


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Route all logging through cardshield's redacting configuration into a buffer, then
    put the process's previous logging back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog_config = structlog.get_config()
    buffer = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=buffer)
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        structlog.configure(**structlog_config)


def _record(run: FlowRun, channel: str, name: str, resp: Any, expect: int = 200) -> Any:
    run.responses.append((f"http:{channel}:{name}", resp.content))
    ok = resp.status_code == expect
    run.steps.append(Step(channel, name, ok, f"HTTP {resp.status_code}"))
    return resp.json() if ok else None


def _keys(settings: Settings, merchant_id: str, now: datetime) -> tuple[str, str]:
    rt = open_runtime(settings)
    try:
        with rt.engine.begin() as conn:
            sk = create_key(
                conn,
                now=now,
                merchant_id=merchant_id,
                kind="secret",
                scopes=sorted(SCOPES),
                description=SCRATCH_PREFIX,
            )
            pk = create_key(
                conn,
                now=now,
                merchant_id=merchant_id,
                kind="publishable",
                scopes=["tokens:create"],
                allowed_origins=[CANARY_ORIGIN],
                description=SCRATCH_PREFIX,
            )
    finally:
        rt.close()
    return sk.key.reveal(), pk.key.reveal()


def _http_flows(
    client: httpx.Client,
    canary: Canary,
    run: FlowRun,
    keys: tuple[str, str],
    now: datetime,
    *,
    payments: bool,
) -> None:
    """The hosted-field and API requests, through ``client`` (in-process app or live server)."""
    secret, publishable = keys
    exp = Expiry(year=now.year + 3, month=now.month)
    pk = {"Authorization": f"Bearer {publishable}", "Origin": CANARY_ORIGIN}
    sk = {"Authorization": f"Bearer {secret}"}

    def post(channel: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        headers = headers | {"Idempotency-Key": secrets.token_hex(8)}
        return _record(run, channel, f"POST {path}", client.post(path, json=body, headers=headers))

    post("api", "/v1/webhook_endpoints", {"url": f"{CANARY_ORIGIN}/webhooks"}, sk)
    for channel, pan in (("hosted_fields", canary.hosted), ("api", canary.api)):
        card = {
            "number": pan.reveal(),
            "exp_month": exp.month,
            "exp_year": exp.year,
            "cvc": canary.cvv.reveal(),
        }
        token = post(channel, "/v1/tokens", {"card": card}, pk)
        if token is None:
            continue
        run.tokens.append(token["id"])
        if not payments:
            run.steps.append(
                Step(
                    channel,
                    "POST /v1/payments",
                    True,
                    "skipped: the server's processor "
                    "is not the sandbox, and a canary must not reach a real processor",
                )
            )
            continue
        pay = post(
            channel,
            "/v1/payments",
            {
                "amount": 1234,
                "currency": "usd",
                "token": token["id"],
                "description": "scope report canary",
            },
            sk,
        )
        if pay is not None and channel == "api":
            post(channel, "/v1/refunds", {"payment": pay["id"], "amount": 1234}, sk)
    _record(run, "api", "GET /v1/events", client.get("/v1/events", headers=sk))


def _in_process(settings: Settings, canary: Canary, run: FlowRun, now: datetime) -> None:
    # Imported here: the web app and its test client are heavy for every CLI start-up.
    from fastapi.testclient import TestClient

    from cardshield.web.app import create_app

    keys = _keys(settings, run.merchant_id, now)
    rt = open_runtime(settings)
    with _sandbox_payments(settings, rt) as payments:
        rt.payments = payments
        app = create_app(rt, clock=lambda: now)  # the app's lifespan closes rt
        with TestClient(app, raise_server_exceptions=False) as client:
            _http_flows(client, canary, run, keys, now, payments=True)
            _platform_flows(client, settings, canary, run, now, payments=True)


def _live(settings: Settings, server: str, canary: Canary, run: FlowRun, now: datetime) -> None:
    keys = _keys(settings, run.merchant_id, now)
    try:
        with httpx.Client(base_url=server.rstrip("/"), timeout=30) as client:
            sandbox = settings.connector == "sandbox"
            _http_flows(client, canary, run, keys, now, payments=sandbox)
            _platform_flows(client, settings, canary, run, now, payments=sandbox)
    except httpx.HTTPError as exc:
        raise ReportError(f"cannot reach the server at {server} ({type(exc).__name__})") from exc


def _platform_flows(
    client: httpx.Client | Any,
    settings: Settings,
    canary: Canary,
    run: FlowRun,
    now: datetime,
    *,
    payments: bool,
) -> None:
    """Twilio's Generic Pay Connector and Amazon Connect's Lambda, as those platforms post."""
    for channel, flow, path in (
        ("twilio_pay", pay_connector_flow, PAY_CONNECTOR_PATH),
        ("amazon_connect", connect_flow, CONNECT_PATH),
    ):
        status, content, answer = flow(
            client, canary, settings, run.merchant_id, now, charge=payments
        )
        run.responses.append((f"http:{channel}:POST {path}", content))
        token = None if answer is None else answer.get("token_id") or answer.get("token")
        if token:
            run.tokens.append(str(token))
        what = "charged" if payments else "tokenized"
        run.steps.append(
            Step(channel, f"POST {path} ({what})", answer is not None, f"HTTP {status}")
        )


@contextmanager
def _sandbox_payments(settings: Settings, rt: Runtime) -> Iterator[PaymentService]:
    """Payments over ``rt`` that go to the built-in sandbox, whatever is configured: a
    canary number must never reach a real processor. The connector is closed after."""
    sandbox = get_connector(
        "sandbox",
        {
            "database_url": settings.effective_database_url,
            "public_base": settings.effective_public_url,
        },
    )
    try:
        yield PaymentService(
            rt.engine, rt.vault, lambda merchant_id: (sandbox, account_for(merchant_id))
        )
    finally:
        close = getattr(sandbox, "close", None)
        if callable(close):
            close()


class _NotedRecordings:
    """The canary call is not a Twilio call, so there is no recording to pause: the IVR's
    pause and resume requests are noted, and the report checks their order."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def pause(self, call_sid: str) -> None:
        self.requests.append("pause")

    def resume(self, call_sid: str) -> None:
        self.requests.append("resume")


def _ivr_flow(settings: Settings, canary: Canary, run: FlowRun, now: datetime) -> None:
    """A self-service IVR call: the canary keyed into the deployment's IVR, tokenized at
    once and charged through the sandbox. Every prompt it speaks is kept for the scan."""
    rt = open_runtime(settings)
    try:
        with _sandbox_payments(settings, rt) as payments:
            _ivr_call(rt, payments, canary, run, now)
    finally:
        rt.close()


def _ivr_call(
    rt: Runtime, payments: PaymentService, canary: Canary, run: FlowRun, now: datetime
) -> None:
    recordings = _NotedRecordings()
    store = call_store(rt)
    flow = IvrFlow(store, capture_for(rt, "phone-ivr"), payments, recordings)
    call_sid = "CA" + secrets.token_hex(16)
    exp = Expiry(year=now.year + 3, month=now.month)
    prompts = [
        flow.start(call_sid, merchant_id=run.merchant_id, amount=1234, currency="USD", now=now)
    ]
    keyed = (
        ("confirm", "1"),
        ("expiry", f"{exp.month:02d}{exp.year % 100:02d}"),
        ("card", canary.phone.reveal()),
        ("cvc", canary.cvv.reveal()),
        ("postal", ""),
    )
    for step, digits in keyed:
        prompts.append(flow.handle(call_sid, step, digits, now))
    spoken = "\n".join(line for prompt in prompts for line in prompt.say)
    run.responses.append(("ivr:prompts", spoken.encode("utf-8")))
    state = store.get(call_sid)
    if state.token:
        run.tokens.append(state.token)
    paused_around_card = recordings.requests == ["pause", "resume"]
    run.steps.append(
        Step(
            "phone",
            "IVR call keyed, tokenized and charged",
            state.outcome == "approved" and paused_around_card,
            f"outcome {state.outcome}; recording requests {'/'.join(recordings.requests)}",
        )
    )


def _phone_flow(canary: Canary, run: FlowRun) -> None:
    """Key the canary (and its CVV) as DTMF and pass it through the agent-leg masker."""
    keyed = canary.phone.reveal() + "#" + canary.cvv.reveal() + "#"
    signal = generate(keyed, sample_rate=_RATE)
    audio = Audio.from_linear(signal.samples, _RATE, "mulaw")
    data = audio.mono()
    heard: list[str] = []
    masker = StreamMasker(encoding="mulaw", fill="tone", on_digit=lambda e: heard.append(e.digit))
    pieces = [masker.process(data[i : i + _RATE]) for i in range(0, len(data), _RATE)]
    delay = masker.latency_ms * _RATE // 1000
    masked = np.concatenate([*pieces, masker.flush()])[delay : delay + len(data)]
    masked_audio = Audio(masked[:, None], _RATE, "mulaw")
    run.recording = wav_bytes(masked_audio)
    run.digits_masked = len(heard)
    run.transcript = "".join(e.digit for e in detect(masked_audio.linear()[:, 0], _RATE))
    run.steps.append(
        Step(
            "phone",
            "DTMF keyed and masked",
            len(heard) == len(keyed),
            f"{len(heard)} of {len(keyed)} keyed digits captured by the masker",
        )
    )


def run_flows(
    settings: Settings,
    canary: Canary,
    merchant_id: str,
    now: datetime,
    *,
    server: str | None = None,
) -> FlowRun:
    """Run every channel's flow for ``merchant_id`` (already created), logs captured.

    With ``server`` the hosted-field and API requests go to that live cardshield server
    (which must use the same database); its logs are then its own, and are scanned only
    where they are files in the data folder or in the paths given to the scan.
    """
    run = FlowRun(merchant_id=merchant_id, started_at=now)
    with captured_logs() as buffer:
        log = logging.getLogger("cardshield.report.canary")
        log.info("canary flows start for %s", merchant_id)
        if server is None:
            _in_process(settings, canary, run, now)
        else:
            _live(settings, server, canary, run, now)
        _ivr_flow(settings, canary, run, now)
        _phone_flow(canary, run)
        log.info("canary flows done: %d steps", len(run.steps))
    run.logs = buffer.getvalue().encode("utf-8")
    return run


def scratch_name(now: datetime) -> str:
    return f"{SCRATCH_PREFIX}-{now:%Y%m%dT%H%M%S}"
