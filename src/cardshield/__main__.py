"""``python -m cardshield`` runs the CLI."""

from __future__ import annotations

from cardshield.cli import main

main()
