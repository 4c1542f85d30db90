"""The scope report against a demo deployment: PASS with every section filled, and FAIL,
naming the place, when a leak is introduced (a logger that bypasses redaction, a CVV
written to a file, a phone masker that lets tones through)."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import text, update

from cardshield.cards import PAN
from cardshield.compliance.report import build_report, render_html, render_json
from cardshield.compliance.report.canary import Canary
from cardshield.compliance.report.render_json import schema
from cardshield.config import Settings
from cardshield.phone.dsp import StreamMasker
from cardshield.redaction.text import find_cards
from cardshield.runtime import open_runtime
from cardshield.security import security_keys
from cardshield.security.operators import Operators
from cardshield.security.security_keys import RelyingParty
from cardshield.storage import make_engine
from cardshield.storage.schema import audit_log
from cardshield.vault import Vault
from tests.unit.security.soft_authenticator import SoftKey


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> list[Canary]:
    """The canaries each report run draws, kept so a test can look for their digits."""
    drawn: list[Canary] = []
    generate = Canary.generate.__func__  # type: ignore[attr-defined]

    def keep(cls: type[Canary]) -> Canary:
        canary = generate(cls)
        drawn.append(canary)
        return canary

    monkeypatch.setattr(Canary, "generate", classmethod(keep))
    return drawn


def _no_card_data(text: str, canary: Canary) -> None:
    assert not list(find_cards(text)), "a card number in the rendered report"
    for pan in canary.cards().values():
        assert pan.reveal() not in text
    assert not canary.cvv_pattern().search(text.encode())


def _check_rendering(report: dict[str, Any]) -> str:
    jsonschema.validate(json.loads(render_json(report)), schema())
    page = render_html(report)
    root = ET.fromstring(page.split("\n", 1)[1])  # strict XML parse: well-formed
    assert root.tag.endswith("html")
    # Self-contained: nothing is loaded from anywhere (no script, link, image, CSS url()).
    assert not [e for e in root.iter() if {"src", "href"} & set(e.attrib)]
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("script", "link", "img")]
    assert "url(" not in page and "@import" not in page
    return page


@pytest.fixture
def leaky_log(deployment: Settings) -> Iterator[Path]:
    """A logger with a raw file handler (no redaction filter) in the data folder."""
    path = deployment.data_dir / "app.log"
    logger = logging.getLogger("tests.leaky")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    yield path
    logger.removeHandler(handler)
    handler.close()


def test_demo_deployment_passes_with_every_section_filled(
    deployment: Settings, canaries: list[Canary]
) -> None:
    now = datetime.now(UTC)
    report = build_report(deployment, now=now)
    canary = report["canary"]
    assert canary["verdict"] == "PASS", canary
    assert canary["scan"]["hits"] == [] and canary["scan"]["scanner_control_ok"]
    scanned = canary["scan"]["scanned"]
    for source in ("logs", "responses", "database", "files", "webhooks", "recordings"):
        assert scanned[source] > 0, source
    assert {s["channel"] for s in canary["flows"]["steps"]} == {
        "hosted_fields",
        "api",
        "phone",
        "twilio_pay",
        "amazon_connect",
    }
    assert all(s["ok"] for s in canary["flows"]["steps"])
    assert (
        canary["flows"]["digits_masked"] == 21
        and canary["flows"]["digits_heard_after_masking"] == 0
    )
    cleanup = canary["cleanup"]
    assert cleanup["cards_in_vault"] == 5 and cleanup["cards_removed"] == 5  # one a channel
    assert cleanup["data_keys_destroyed"] == 2 and cleanup["data_keys_left_readable"] == 0
    assert cleanup["api_keys_revoked"] == 2 and cleanup["webhook_endpoints_disabled"] == 1
    online = report["wiring"]["online"]
    assert online["connector"] == "sandbox" and online["publishable_keys"]
    assert online["publishable_keys"][0]["origins"] == [
        "http://127.0.0.1:8751",
        "http://localhost:8751",
    ]
    assert [h["url"] for h in online["webhook_endpoints"]] == [
        "http://127.0.0.1:8751/webhooks/cardshield"
    ]
    assert report["wiring"]["merchants"] == 1  # the scratch merchant is gone
    assert report["encryption"]["provider"] == "local"
    assert report["encryption"]["versions"][0]["data_keys"] >= 2
    audit = report["audit"]
    assert audit["ok"] and audit["problem"] is None
    assert audit["sealed"] + audit["unsealed"] > 10  # provisioning plus the canary run
    acc = report["access_control"]
    assert acc["active_operators"] == 1 and acc["mfa_coverage"] == 1.0
    assert acc["security_key_operators"] == 0 and acc["operators"][0]["security_keys"] == 0
    assert acc["api_keys"] == {"publishable": 1, "secret": 1}
    names = {a["url"].rsplit("/", 1)[1] for a in report["scripts"]["assets"]}
    assert names == {"cardshield.js", "cardrules.js", "frame.js", "frame.css"}
    assert report["retention"]["retention_days"] == 730
    series = report["access_volume"]["series"]
    assert len(series) == 30 and series[-1]["date"] == now.date().isoformat()
    page = _check_rendering(report)
    assert page.count("<svg") == 3 and "PASS" in page
    # The canary's own card accesses stay out of the next report's chart.
    again = build_report(deployment, now=now, canary=False)
    assert again["access_volume"]["canary_accesses_excluded"] >= 4  # 2 tokenized, 2 charged
    assert again["access_volume"]["series"][-1] == series[-1]
    assert len(canaries) == 1
    _no_card_data(page + render_json(report), canaries[0])


def test_a_logger_that_bypasses_redaction_is_caught(
    deployment: Settings, leaky_log: Path, monkeypatch: pytest.MonkeyPatch, canaries: list[Canary]
) -> None:
    tokenize = Vault.tokenize
    leaked: list[str] = []

    def leaky(self: Vault, merchant_id: str, pan: PAN, *args: Any, **kwargs: Any) -> Any:
        # Built by hand, so the redacting record factory never sees it; the handler has
        # no redacting filter: the raw number reaches app.log.
        record = logging.LogRecord(
            "tests.leaky", logging.INFO, __file__, 1, "tokenizing %s", (pan.reveal(),), None
        )
        logging.getLogger("tests.leaky").handle(record)
        leaked.append(pan.masked())
        return tokenize(self, merchant_id, pan, *args, **kwargs)

    monkeypatch.setattr(Vault, "tokenize", leaky)
    report = build_report(deployment, now=datetime.now(UTC))
    canary = report["canary"]
    assert canary["verdict"] == "FAIL"
    hits = [h for h in canary["scan"]["hits"] if h["location"].endswith("app.log")]
    assert {h["canary"] for h in hits} == {
        "hosted_fields",
        "api",
        "phone",
        "twilio_pay",
        "amazon_connect",
    }
    assert sorted(h["line"] for h in hits) == [1, 2, 3, 4, 5]
    assert {h["masked"] for h in hits} == set(leaked)
    assert all(h["source"] == "files" for h in hits)
    assert canary["cleanup"]["data_keys_left_readable"] == 0  # cleaned up all the same
    page = _check_rendering(report)
    assert "FAIL" in page and "app.log" in page
    for masked in leaked:
        assert masked in page
    assert len(canaries) == 1
    _no_card_data(page + render_json(report), canaries[0])


def test_a_cvv_written_next_to_its_key_is_caught(
    deployment: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenize = Vault.tokenize
    dump = deployment.data_dir / "debug" / "requests.jsonl"
    dump.parent.mkdir()

    def leaky(
        self: Vault, merchant_id: str, pan: PAN, expiry: Any, cvv: Any = None, **kw: Any
    ) -> Any:
        with dump.open("a") as fh:
            # The IVR tokenizes without the code (it goes to the volatile store on its own).
            if cvv is not None:
                fh.write(json.dumps({"merchant": merchant_id, "cvc": cvv.reveal()}) + "\n")
        return tokenize(self, merchant_id, pan, expiry, cvv, **kw)

    monkeypatch.setattr(Vault, "tokenize", leaky)
    report = build_report(deployment, now=datetime.now(UTC))
    hits = report["canary"]["scan"]["hits"]
    assert report["canary"]["verdict"] == "FAIL"
    # Hosted fields, API, Twilio <Pay>, Amazon Connect: each tokenizes with the code.
    assert [(h["kind"], h["line"]) for h in hits] == [("cvv", n) for n in (1, 2, 3, 4)]
    assert all(h["location"].endswith("requests.jsonl") and h["masked"] == "***" for h in hits)


def test_a_phone_masker_that_lets_tones_through_is_caught(
    deployment: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    process = StreamMasker.process

    def passthrough(self: StreamMasker, frame: Any) -> Any:
        process(self, frame)  # digits still reach the capture callback
        return frame

    monkeypatch.setattr(StreamMasker, "process", passthrough)
    monkeypatch.setattr(StreamMasker, "flush", lambda self: frame_of(self))
    report = build_report(deployment, now=datetime.now(UTC))
    hits = report["canary"]["scan"]["hits"]
    assert report["canary"]["verdict"] == "FAIL"
    places = {(h["source"], h["location"], h["canary"]) for h in hits}
    assert ("recordings", "recordings/canary-call.wav#transcript", "phone") in places
    assert ("recordings", "recordings/canary-call.wav#transcript", "cvv") in places


def frame_of(masker: StreamMasker) -> Any:
    import numpy as np

    return np.zeros(masker.latency_ms * 8, dtype=np.uint8) + 0xFF  # mu-law silence


def test_a_deleted_row_left_in_the_sqlite_file_is_caught(
    deployment: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(deployment.effective_database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE debug_notes (note TEXT)"))
    tokenize = Vault.tokenize

    def leaky(self: Vault, merchant_id: str, pan: PAN, *args: Any, **kwargs: Any) -> Any:
        # Written and deleted again: gone from every table, still in the file's free pages
        # (as with any SQLite built without secure delete, the default upstream).
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA secure_delete=OFF")
            conn.execute(text("INSERT INTO debug_notes VALUES (:n)"), {"n": f"card {pan.reveal()}"})
            conn.commit()
            conn.execute(text("DELETE FROM debug_notes"))
            conn.commit()
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return tokenize(self, merchant_id, pan, *args, **kwargs)

    monkeypatch.setattr(Vault, "tokenize", leaky)
    try:
        report = build_report(deployment, now=datetime.now(UTC))
    finally:
        engine.dispose()
    hits = report["canary"]["scan"]["hits"]
    assert report["canary"]["verdict"] == "FAIL"
    assert hits and all(h["location"].endswith("vault.db#bytes") for h in hits), hits
    # Each card's row reuses the freed space of the one before; the last one stays.
    assert "phone" in {h["canary"] for h in hits}


def test_a_card_number_in_a_webhook_payload_is_caught(
    deployment: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardshield.payments import outbox, record

    seen: list[str] = []
    tokenize, emit = Vault.tokenize, record.emit_event

    def keep(self: Vault, merchant_id: str, pan: PAN, *args: Any, **kwargs: Any) -> Any:
        seen.append(pan.reveal())
        return tokenize(self, merchant_id, pan, *args, **kwargs)

    def leaky_emit(conn: Any, **kwargs: Any) -> str:
        # An event that carries the card number, with the outbox's redaction switched off.
        kwargs["data"] = dict(kwargs["data"]) | {"card_number": seen[-1]}
        return emit(conn, **kwargs)

    monkeypatch.setattr(Vault, "tokenize", keep)
    monkeypatch.setattr(record, "emit_event", leaky_emit)
    monkeypatch.setattr(outbox, "scrub", lambda value: value)
    report = build_report(deployment, now=datetime.now(UTC))
    hits = report["canary"]["scan"]["hits"]
    assert report["canary"]["verdict"] == "FAIL"
    webhook_hits = [h for h in hits if h["source"] == "webhooks"]
    assert webhook_hits and all(h["location"].startswith("events!evt_") for h in webhook_hits)
    assert {h["canary"] for h in webhook_hits} == {
        "hosted_fields",
        "api",
        "phone",
        "twilio_pay",
        "amazon_connect",
    }
    assert any(h["source"] == "database" and h["column"] == "data" for h in hits)


def test_a_tampered_audit_entry_breaks_the_chain(deployment: Settings) -> None:
    engine = make_engine(deployment.effective_database_url)
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(actor="someone-else"))
    engine.dispose()
    report = build_report(deployment, now=datetime.now(UTC), canary=False)
    assert report["summary"]["audit_chain"] == "BROKEN"
    assert report["audit"]["problem"].startswith("audit entry 2:")
    assert "BROKEN" in _check_rendering(report)


def test_without_the_canary_the_sections_are_still_filled(deployment: Settings) -> None:
    report = build_report(deployment, now=datetime.now(UTC), canary=False)
    assert report["canary"] == {"verdict": "SKIPPED"}
    assert report["summary"]["canary"] == "SKIPPED"
    page = _check_rendering(report)
    assert "--no-canary" in page


def test_operators_with_security_keys_are_counted(deployment: Settings) -> None:
    rp = RelyingParty.for_url("http://localhost:8750")
    assert rp is not None
    runtime = open_runtime(deployment)
    try:
        with runtime.engine.connect() as conn:
            admin = Operators(runtime.engine, runtime.kms).all(conn)[0]
            options, challenge = security_keys.registration_options(conn, rp, operator_id=admin.id)
        security_keys.add_key(
            runtime.engine,
            rp,
            now=datetime.now(UTC),
            operator_id=admin.id,
            challenge=challenge,
            response=SoftKey(rp.origin).register(options),
            name="desk key",
            actor="test",
        )
    finally:
        runtime.close()
    report = build_report(deployment, now=datetime.now(UTC), canary=False)
    acc = report["access_control"]
    assert acc["security_key_operators"] == 1 and acc["operators"][0]["security_keys"] == 1
    page = _check_rendering(report)
    assert "with security keys" in page


def test_the_voice_platforms_a_merchant_wired_are_counted_and_shown(deployment: Settings) -> None:
    from cardshield.phone.connect import ConnectKeys
    from cardshield.phone.pay_connector.credentials import create_credential
    from cardshield.runtime import open_runtime

    now = datetime.now(UTC)
    rt = open_runtime(deployment)
    try:
        merchant = rt.vault.create_merchant("shop", now=now)
        keys = ConnectKeys(rt.vault.keys)
        with rt.engine.begin() as conn:
            create_credential(conn, now=now, merchant_id=merchant, actor="test")
            pending = keys.create(conn, merchant_id=merchant, now=now, actor="test")
            keys.create(conn, merchant_id=merchant, now=now, actor="test")
            keys.activate(
                conn,
                merchant_id=merchant,
                key_id=pending.id,
                connect_key_id="a5ecd749-4bd8-4a94-bfde-27eefe4f12b1",
                now=now,
                actor="test",
            )
    finally:
        rt.close()
    report = build_report(deployment, now=now, canary=False)
    platforms = report["wiring"]["phone"]["platforms"]
    assert platforms["twilio_pay_connector"]["credentials"] == 1
    assert platforms["amazon_connect"] == platforms["amazon_connect"] | {
        "active_keys": 1,  # the pending one cannot open anything yet
        "signing_secrets": 0,
    }
    page = render_html(report)
    assert "Voice platforms" in page and "twilio_pay_connector" in page
