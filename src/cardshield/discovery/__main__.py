"""``python -m cardshield.discovery PATH...``: the scan command alone, without loading the
rest of the CLI (for scripts and benchmarks that start it many times). Logging is set up
as ``cardshield`` sets it up, redaction and the redacting ``sys.excepthook`` included.

The command runs as a plain Click command: calling the Typer app would install Typer's own
exception hook over the redacting one."""

from __future__ import annotations

import os

import typer

from cardshield.commands.scan import app
from cardshield.redaction.logging import configure_logging

if __name__ == "__main__":
    command = typer.main.get_command(app)
    configure_logging(level=os.environ.get("CARDSHIELD_LOG_LEVEL", "WARNING"), fmt="console")
    command(prog_name="cardshield scan")
