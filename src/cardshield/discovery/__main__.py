"""``python -m cardshield.discovery PATH...``: the scan command alone, without loading the
rest of the CLI (for scripts and benchmarks that start it many times)."""

from __future__ import annotations

from cardshield.commands.scan import app

if __name__ == "__main__":
    app(prog_name="cardshield scan")
