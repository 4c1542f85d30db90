"""Errors of the scope evidence report."""

from __future__ import annotations

from cardshield.errors import CardshieldError


class ReportError(CardshieldError):
    """The report could not be built or written (a missing folder, a broken deployment)."""

    type = "report_error"
    code = "report_failed"
    default_message = "The scope report could not be built."
