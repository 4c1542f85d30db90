"""Build the scope evidence report: every section read from the deployment, then the
canary leak test against a scratch merchant that is deleted (keys destroyed) afterwards."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from cardshield import __version__
from cardshield.compliance.report import collectors
from cardshield.compliance.report.canary import Canary
from cardshield.compliance.report.flows import FlowRun, run_flows, scratch_name
from cardshield.compliance.report.leakscan import LeakScan, scan_for_canaries
from cardshield.compliance.report.scratch import Cleanup, create_scratch, delete_scratch
from cardshield.config import Settings
from cardshield.errors import CardshieldError
from cardshield.runtime import open_runtime

SCHEMA = "cardshield.scope-report/1"


def canary_verdict(run: FlowRun | None, scan: LeakScan | None, error: str | None) -> str:
    """PASS: every flow ran, the scanner saw the control canaries, and no canary was found
    outside the vault's ciphertext. FAIL: a canary was found. ERROR: the test could not
    prove anything (a flow failed, or the scanner control did not see the canaries)."""
    if scan is not None and scan.hits:
        return "FAIL"
    if error or run is None or scan is None or not scan.control_ok:
        return "ERROR"
    if not all(step.ok for step in run.steps):
        return "ERROR"
    return "PASS"


def canary_section(
    settings: Settings,
    now: datetime,
    *,
    server: str | None = None,
    extra_paths: tuple[Path, ...] = (),
) -> dict[str, Any]:
    canary = Canary.generate()
    merchant_id = create_scratch(settings, scratch_name(now), now)
    run: FlowRun | None = None
    scan: LeakScan | None = None
    cleanup: Cleanup | None = None
    error: str | None = None
    try:
        run = run_flows(settings, canary, merchant_id, now, server=server)
        # Scanned while the canary ciphertexts are still in the vault: the test shows the
        # cards are stored, and stored nowhere but in ciphertext.
        scan = scan_for_canaries(settings, canary, run, extra_paths=extra_paths)
    except CardshieldError as exc:
        error = exc.message
    finally:
        cleanup = delete_scratch(settings, merchant_id, now)
    verdict = canary_verdict(run, scan, error)
    return {
        "verdict": verdict,
        "error": error,
        "canaries": canary.masked() | {"cvv": "***"},
        "scratch_merchant": merchant_id,
        "flows": run.to_dict() if run else None,
        "scan": scan.to_dict() if scan else None,
        "cleanup": cleanup.to_dict(),
        "mode": f"live server {server}" if server else "in-process app",
        "processor": "sandbox (built in): canary payments never reach a real processor",
        "extra_paths": [str(p) for p in extra_paths],
        "leaves_behind": "masked payment, refund and event rows and audit entries of the "
        "deleted scratch merchant (audit entries are append-only); no card ciphertext, no "
        "readable data key, no active API key or webhook endpoint",
    }


def build_report(
    settings: Settings,
    *,
    now: datetime,
    canary: bool = True,
    server: str | None = None,
    extra_paths: tuple[Path, ...] = (),
) -> dict[str, Any]:
    """The whole report as plain data (the JSON shape in docs/scope-report.md).

    ``server``: run the canary's HTTP flows against that live server instead of in process;
    ``extra_paths``: more files or folders (say, the server's log folder) to scan.
    """
    rt = open_runtime(settings)
    try:
        sections: dict[str, Any] = {
            "wiring": collectors.wiring(rt),
            "encryption": collectors.encryption(rt),
            "access_control": collectors.access_control(rt),
            "scripts": collectors.scripts(rt),
            "retention": collectors.retention(rt, now),
            "access_volume": collectors.access_volume(rt, now),
        }
    finally:
        rt.close()
    sections["canary"] = (
        canary_section(settings, now, server=server, extra_paths=extra_paths)
        if canary
        else {"verdict": "SKIPPED"}
    )
    rt = open_runtime(settings)
    try:
        sections["audit"] = collectors.audit_chain(rt)  # after the canary: covers its entries
    finally:
        rt.close()
    return {
        "schema": SCHEMA,
        "generated_at": now.isoformat(),
        "cardshield_version": __version__,
        "data_dir": str(Path(settings.data_dir)),
        "summary": summary(sections),
        **sections,
    }


def summary(sections: dict[str, Any]) -> dict[str, Any]:
    access = sections["access_control"]
    return {
        "canary": sections["canary"]["verdict"],
        "audit_chain": "OK" if sections["audit"]["ok"] else "BROKEN",
        "mfa_coverage": access["mfa_coverage"],
        "kek_provider": sections["encryption"]["provider"],
        "cards_past_retention": sections["retention"]["cards_past_retention"],
    }
