"""``cardshield cards``: check card numbers without putting them on the command line."""

from __future__ import annotations

import json
import sys

import typer

from cardshield.cards import PAN
from cardshield.errors import CardError

app = typer.Typer(help="Card number utilities.", no_args_is_help=True)


def _read_numbers() -> list[str]:
    if sys.stdin.isatty():
        return [typer.prompt("Card number", hide_input=True)]
    return [line for line in sys.stdin.read().splitlines() if line.strip()]


@app.command("check")
def check(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per number."),
    extra: list[str] | None = typer.Argument(None, hidden=True),
) -> None:
    """Check card numbers read from stdin (one per line) or a hidden prompt.

    Prints brand, validity with the reason and the masked number; exits 1 if any is invalid.
    """
    if extra:
        # Refuse without echoing the argument: it may be a card number.
        typer.echo(
            "error: cards check reads numbers from stdin or a hidden prompt, never from the "
            "command line (shell history would keep them)",
            err=True,
        )
        raise typer.Exit(2)
    all_valid = True
    for raw in _read_numbers():
        result: dict[str, str | bool | None]
        try:
            pan = PAN(raw)
            result = {"valid": True, "brand": pan.brand.value, "masked": pan.masked()}
        except CardError as exc:
            all_valid = False
            result = {"valid": False, "brand": None, "masked": None, "error": exc.code}
            result["reason"] = exc.message
        if as_json:
            typer.echo(json.dumps(result))
        elif result["valid"]:
            typer.echo(f"valid    {result['brand']:<11} {result['masked']}")
        else:
            typer.echo(f"invalid  {result['error']}: {result['reason']}")
    if not all_valid:
        raise typer.Exit(1)
