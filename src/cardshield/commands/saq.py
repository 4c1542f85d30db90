"""``cardshield saq``: which SAQ applies, the Visa and Mastercard level, and what to submit.

With ``--answers FILE.json`` the answers come from a file (format: docs/saq.md and
``compliance/schema/answers.schema.json``); without it a questionnaire asks them on the
terminal (questions on stderr, so ``--json`` output stays clean) and ``--save FILE`` keeps
them. Exit status: 0 advice given, 2 unreadable or invalid answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cardshield.compliance.advisor import Advice, advise
from cardshield.compliance.answers import AnswersError, load_answers, parse_answers
from cardshield.compliance.questionnaire import ConsoleAsker, run_questionnaire

app = typer.Typer(help="Which PCI DSS SAQ applies, the merchant level, and what to submit.")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _save(path: Path, document: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise AnswersError(f"cannot write {path}: {exc.strerror}") from exc


def _render(advice: Advice, console: Console) -> None:
    data = advice.to_dict()
    saq, level = data["saq"], data["level"]
    console.print(f"[bold]SAQ overall:[/bold] {saq['overall']}")
    if saq["alternatives"]:
        alternatives = " + ".join(saq["alternatives"])
        console.print(f"  or, with the acquirer's agreement and segmented channels: {alternatives}")
    channels = Table("channel", "SAQ", "method", "method SAQ", title="Per channel")
    channels.title_justify = "left"
    for channel, methods in saq["per_method"].items():
        for i, (method, code) in enumerate(methods.items()):
            first = i == 0
            channels.add_row(
                channel if first else "", saq["per_channel"][channel] if first else "", method, code
            )
    if channels.row_count:
        console.print(channels)
    console.print(
        f"[bold]Level ({level['entity'].replace('_', ' ')}):[/bold] Visa {level['visa']}, "
        f"Mastercard {level['mastercard']}, overall {level['overall']}"
    )
    submit = Table("submit", "by", "how often", title="What to submit", title_justify="left")
    for row in data["submit"]:
        submit.add_row(row["item"], row["by"], row["frequency"])
    console.print(submit)
    families = ", ".join(str(r["id"]) for r in data["requirements"])
    console.print(f"[bold]PCI DSS requirements that apply:[/bold] {families}")
    console.print("[bold]Reasons[/bold]")
    for i, reason in enumerate(data["reasons"], start=1):
        console.print(f"{i:>3}. [cyan]{reason['decision']}[/cyan]: {reason['because']}")
        console.print(f"     [dim]source: {reason['source']}[/dim]")


@app.callback(invoke_without_command=True)
def saq(
    answers: Path | None = typer.Option(
        None, "--answers", "-a", help="Answers file (JSON); without it, a questionnaire asks."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the advice as JSON."),
    save: Path | None = typer.Option(None, "--save", help="Write the answers to this file."),
) -> None:
    """Advise on the SAQ, the brand levels and the submissions, each with its reason."""
    try:
        if answers is not None:
            parsed = load_answers(answers)
        else:
            parsed = parse_answers(run_questionnaire(ConsoleAsker()))
        if save is not None:
            _save(save, dict(parsed.raw))
        advice = advise(parsed)
    except AnswersError as exc:
        raise _fail(exc.message) from None
    if as_json:
        typer.echo(json.dumps(advice.to_dict(), indent=2))
    else:
        _render(advice, Console(highlight=False, soft_wrap=False))
