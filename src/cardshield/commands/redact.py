"""``cardshield redact``: mask card data in text streams."""

from __future__ import annotations

import sys

import typer

from cardshield.redaction.text import redact

app = typer.Typer(help="Redact card data from text (and, later, audio).", no_args_is_help=True)


@app.command("text")
def text(
    line_buffered: bool = typer.Option(
        False, "--line-buffered", help="Flush after every line (for tail -f pipelines)."
    ),
) -> None:
    """Copy stdin to stdout with every PAN, track and security code masked.

    Streams line by line; bytes that are not valid UTF-8 pass through unchanged.
    """
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "surrogateescape")
        out.write(redact(line).encode("utf-8", "surrogateescape"))
        if line_buffered:
            out.flush()
    out.flush()
