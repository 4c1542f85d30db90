"""The report as one self-contained HTML page: inline CSS and inline SVG charts, no
script and no external asset, so it opens offline and can be archived as evidence.

The markup is also well-formed XML (every element closed, only XML entities), which lets
tests parse it strictly. Every text value is escaped and passed through card-number
redaction once more, although the report holds only masked data to begin with.
"""

from __future__ import annotations

import html
from typing import Any

from cardshield.redaction.text import redact

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #dde;padding:.25rem .5rem;
text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f3f4f8}code{font-size:12px;word-break:break-all}
.PASS,.OK{color:#0a7a32;font-weight:700}.FAIL,.BROKEN,.ERROR{color:#b3141b;font-weight:700}
.SKIPPED{color:#777;font-weight:700}.note{color:#555}
"""


def _e(value: object) -> str:
    return html.escape(redact("" if value is None else str(value)), quote=True)


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}">none</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pairs(data: dict[str, Any]) -> str:
    return _table(["item", "value"], [[k, v] for k, v in data.items()])


def bar_chart(title: str, labels: list[str], values: list[int], *, width: int = 900) -> str:
    """A vertical bar chart as inline SVG."""
    height, pad, top = 220, 40, 20
    peak = max(values, default=0) or 1
    step = (width - pad) / max(len(values), 1)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = (height - pad - top) * value / peak
        x = pad + i * step
        y = height - pad - h
        bars.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="#3b6fd8"><title>{_e(label)}: {value}</title></rect>'
        )
        if len(values) <= 12 or i % max(len(values) // 6, 1) == 0:
            bars.append(
                f'<text x="{x + step / 2:.1f}" y="{height - pad + 14}" font-size="10" '
                f'text-anchor="middle">{_e(label[5:] if len(label) == 10 else label)}</text>'
            )
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width}" y2="{height - pad}" stroke="#888"/>'
        f'<text x="{pad - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>'
        f'<text x="{pad - 4}" y="{height - pad}" font-size="10" text-anchor="end">0</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
        f"{axis}{''.join(bars)}</svg>"
    )


def coverage_bar(title: str, fraction: float | None, *, width: int = 300) -> str:
    """A horizontal meter as inline SVG (MFA coverage)."""
    share = fraction or 0.0
    label = "n/a" if fraction is None else f"{share:.0%}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width + 60}" height="24">'
        f'<title>{_e(title)}</title><rect x="0" y="4" width="{width}" height="16" fill="#e4e6ee"/>'
        f'<rect x="0" y="4" width="{width * share:.1f}" height="16" fill="#0a7a32"/>'
        f'<text x="{width + 6}" y="17" font-size="12">{_e(label)}</text></svg>'
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"


def _canary(c: dict[str, Any]) -> str:
    verdict = c["verdict"]
    parts = [f'<p>Verdict: <span class="{_e(verdict)}">{_e(verdict)}</span></p>']
    if verdict == "SKIPPED":
        return parts[0] + '<p class="note">The canary test was not run (--no-canary).</p>'
    if c.get("error"):
        parts.append(f"<p>Error: {_e(c['error'])}</p>")
    parts.append(_pairs({**{f"canary ({k})": v for k, v in c["canaries"].items()}}))
    scan = c.get("scan") or {}
    hits = scan.get("hits", [])
    if hits:
        parts.append("<h3>Where the canaries were found</h3>")
    parts.append(
        _table(
            ["source", "location", "line", "column", "canary", "kind", "masked"],
            [
                [
                    h["source"],
                    h["location"],
                    h["line"],
                    h["column"] or "",
                    h["canary"],
                    h["kind"],
                    h["masked"],
                ]
                for h in hits
            ],
        )
    )
    flows = c.get("flows") or {}
    parts.append("<h3>Flows run</h3>")
    parts.append(
        _table(
            ["channel", "step", "ok", "detail"],
            [[s["channel"], s["name"], s["ok"], s["detail"]] for s in flows.get("steps", [])],
        )
    )
    parts.append("<h3>What was scanned</h3>")
    parts.append(
        _pairs(
            scan.get("scanned", {})
            | {
                "scanner control saw the canaries": scan.get("scanner_control_ok"),
                "other card numbers found (not canaries)": scan.get("other_findings"),
            }
        )
    )
    parts.append("<h3>Scratch merchant clean-up</h3>")
    parts.append(_pairs(c["cleanup"] | {"processor": c["processor"]}))
    parts.append(f'<p class="note">Left behind: {_e(c["leaves_behind"])}</p>')
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    s = report["summary"]
    w, enc, acc = report["wiring"], report["encryption"], report["access_control"]
    vol = report["access_volume"]["series"]
    actions = report["access_volume"]["actions"]
    online = w["online"]
    body = [
        f"<h1>cardshield scope evidence report</h1><p>Generated {_e(report['generated_at'])} "
        f"by cardshield {_e(report['cardshield_version'])}; schema {_e(report['schema'])}.</p>",
        "<h2>Summary</h2>",
        f'<p>Canary leak test: <span class="{_e(s["canary"])}">{_e(s["canary"])}</span>; '
        f'audit chain: <span class="{_e(s["audit_chain"])}">{_e(s["audit_chain"])}</span></p>',
        "<h2>Channel wiring</h2>",
        _pairs(
            {
                "merchants": w["merchants"],
                "connector": online["connector"],
                "connector options set": ", ".join(online["connector_options"]) or "none",
                "public URL": online["public_url"],
                "hosted fields frame": online["hosted_fields_frame"],
            }
            | w["storage"]
        ),
        "<h3>Hosted fields: publishable keys and allowed origins</h3>",
        _table(
            ["merchant", "key", "origins"],
            [
                [k["merchant"], k["key"], ", ".join(k["origins"])]
                for k in online["publishable_keys"]
            ],
        ),
        "<h3>Webhook endpoints</h3>",
        _table(
            ["merchant", "url"], [[h["merchant"], h["url"]] for h in online["webhook_endpoints"]]
        ),
        "<h3>Forward destinations</h3>",
        _table(
            ["merchant", "host"],
            [[f["merchant"], f["host"]] for f in online["forward_destinations"]],
        ),
        f"<h3>Phone</h3><p>{_e(w['phone']['note'])}</p>",
        _pairs(w["phone"].get("settings", {})),
        "<h3>Voice platforms</h3>",
        _table(
            ["platform", "live credentials", "what it does to scope"],
            [
                [name, ", ".join(f"{k} {v}" for k, v in p.items() if k != "note"), p["note"]]
                for name, p in w["phone"].get("platforms", {}).items()
            ],
        ),
        "<h2>Canary leak test</h2>",
        _canary(report["canary"]),
        "<h2>Encryption and key management</h2>",
        _pairs(
            {
                k: enc[k]
                for k in (
                    "provider",
                    "current_version",
                    "pending_rewrap",
                    "last_rotation",
                    "cipher",
                )
            }
        ),
        bar_chart(
            "Data keys per KEK version",
            [f"v{v['version']}" for v in enc["versions"]],
            [v["data_keys"] for v in enc["versions"]],
            width=360,
        ),
        "<h2>Audit chain verification</h2>",
        _pairs(report["audit"]),
        "<h2>Access control</h2>",
        coverage_bar("MFA coverage of active operators", acc["mfa_coverage"]),
        _pairs(
            {
                "active operators": acc["active_operators"],
                "MFA enrolled": acc["mfa_enrolled"],
                "with security keys": acc["security_key_operators"],
                "roles": _counts(acc["roles"]),
                "API keys by kind": _counts(acc["api_keys"]),
                "API keys revoked": acc["api_keys_revoked"],
            }
        ),
        _table(
            ["username", "role", "merchant", "MFA", "security keys", "active", "last login"],
            [
                [
                    o["username"],
                    o["role"],
                    o["merchant"] or "all",
                    o["mfa"],
                    o["security_keys"],
                    o["active"],
                    o["last_login"] or "never",
                ]
                for o in acc["operators"]
            ],
        ),
        "<h2>Payment page scripts (PCI DSS 6.4.3)</h2>",
        _table(
            ["url", "type", "loaded by", "bytes", "integrity"],
            [
                [a["url"], a["type"], a["loaded_by"], a["bytes"], a["integrity"]]
                for a in report["scripts"]["assets"]
            ],
        ),
        f"<p>Manifest: {_e(report['scripts']['manifest_url'])}</p>",
        "<h2>Retention</h2>",
        _pairs(report["retention"]),
        "<h2>Card-data access per day</h2>",
        bar_chart(
            "Card-data accesses per day", [d["date"] for d in vol], [d["total"] for d in vol]
        ),
        f'<p class="note">Audit actions counted: {_e(", ".join(actions))}; accesses by earlier'
        f" canary runs left out: {_e(report['access_volume']['canary_accesses_excluded'])}.</p>",
    ]
    return (
        '<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head>'
        '<meta charset="utf-8"/><title>cardshield scope evidence report</title>'
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
