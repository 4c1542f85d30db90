"""SARIF 2.1.0, for code-scanning dashboards. Warnings become tool notifications; each result
carries its finding id as a partial fingerprint, and a closed finding an external, accepted
suppression with its mark's reason."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from cardshield import __version__
from cardshield.discovery.findings import Finding, ScanReport, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("CS1001", "TrackData", "Magnetic stripe track data", "error"),
    ("CS1002", "PrimaryAccountNumber", "Primary account number (PAN) in clear text", "error"),
    ("CS1003", "TestCardNumber", "Published test card number", "note"),
)
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.LOW: "note"}


def _rule_index(finding: Finding) -> int:
    if finding.kind != "pan":
        return 0
    return 2 if finding.test_card else 1


def _uri(path: str) -> str:
    return quote(path, safe="/!:@+,;=-._~")


def _result(finding: Finding) -> dict[str, Any]:
    index = _rule_index(finding)
    result: dict[str, Any] = {
        "ruleId": _RULES[index][0],
        "ruleIndex": index,
        "level": _LEVEL[finding.severity],
        "message": {
            "text": f"{finding.brand} card number {finding.masked} ({finding.kind}, "
            f"{finding.severity.value})"
        },
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.path)},
                    "region": {"startLine": max(1, finding.line)},
                }
            }
        ],
        "partialFingerprints": {"cardshieldFindingId/v1": finding.id},
        "properties": finding.to_dict(),
    }
    if finding.closed and finding.mark is not None:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": finding.mark.reason or finding.mark.status.value,
            }
        ]
    return result


def to_sarif(report: ScanReport) -> dict[str, Any]:
    rules = [
        {
            "id": rule_id,
            "name": name,
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": level},
        }
        for rule_id, name, text, level in _RULES
    ]
    notifications = [
        {
            "level": "warning",
            "message": {"text": w.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(w.path)}}}],
        }
        for w in report.warnings
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cardshield",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": [_result(f) for f in report.findings],
                "properties": {"stats": report.stats.to_dict()},
            }
        ],
    }


def render(report: ScanReport) -> str:
    return json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n"
