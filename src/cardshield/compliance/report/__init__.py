"""The scope evidence report (``cardshield report scope``).

:func:`build_report` reads every section from the deployment (channel wiring, encryption
and keys, audit chain, access control, payment-page scripts, retention, card-data access
volume) and runs the canary leak test: fresh canary card numbers through the hosted-field,
API and phone flows of a scratch merchant, then the discovery scanner over logs, database,
webhook payloads and recordings. :func:`render_json` and :func:`render_html` write it out.
"""

from __future__ import annotations

from cardshield.compliance.report.build import SCHEMA, build_report
from cardshield.compliance.report.errors import ReportError
from cardshield.compliance.report.render_html import render_html
from cardshield.compliance.report.render_json import render_json

__all__ = ["SCHEMA", "ReportError", "build_report", "render_html", "render_json"]
