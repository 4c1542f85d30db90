"""The interactive SAQ questionnaire: terminal questions that build an answers document.

The questions follow the answers schema (one question per field, asked only when it matters:
script controls only with the hosted fields iframe, keying only when staff key cards, ...).
Asking is behind the tiny :class:`Asker` protocol; :class:`ConsoleAsker` asks with Rich on
stderr and reads plain lines from stdin, so a piped file can answer it and ``--json`` output
on stdout stays clean.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from rich.console import Console

from cardshield.compliance.answers import AnswersError
from cardshield.compliance.rules import load_rules

Options = Sequence[tuple[str, str]]

_YES = {"y", "yes", "true", "1"}
_NO = {"n", "no", "false", "0"}


class Asker(Protocol):
    def choose(self, question: str, options: Options, default: str | None = None) -> str: ...

    def choose_many(self, question: str, options: Options) -> list[str]: ...

    def confirm(self, question: str, default: bool | None = None) -> bool: ...

    def number(self, question: str, *, percent: bool = False) -> float: ...


class ConsoleAsker:
    """Asks on a Rich console (stderr by default) and reads answers line by line."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)

    def _line(self, prompt: str) -> str:
        try:
            return self.console.input(f"[bold]{prompt}[/bold] ").strip()
        except EOFError:
            self.console.print()
            raise AnswersError(
                "the questionnaire ended before every question was answered"
            ) from None

    def _complain(self, message: str) -> None:
        self.console.print(f"[red]{message}[/red]")

    def _menu(self, question: str, options: Options) -> None:
        self.console.print(f"\n[cyan]{question}[/cyan]")
        for i, (value, label) in enumerate(options, start=1):
            self.console.print(f"  {i}) {value}: {label}")

    @staticmethod
    def _pick(token: str, options: Options) -> str | None:
        values = [value for value, _ in options]
        if token.isdigit() and 1 <= int(token) <= len(values):
            return values[int(token) - 1]
        return token if token in values else None

    def choose(self, question: str, options: Options, default: str | None = None) -> str:
        self._menu(question, options)
        while True:
            hint = f" [{default}]" if default else ""
            raw = self._line(f"number or name{hint}:")
            picked = self._pick(raw, options) if raw else default
            if picked is not None:
                return picked
            self._complain("pick one of the numbers or names listed")

    def choose_many(self, question: str, options: Options) -> list[str]:
        self._menu(question, options)
        while True:
            raw = self._line("numbers or names, separated by commas (empty for none):")
            tokens = [t for t in re.split(r"[,\s]+", raw) if t]
            picked = [self._pick(t, options) for t in tokens]
            if all(p is not None for p in picked):
                return list(dict.fromkeys(p for p in picked if p is not None))
            self._complain("use only the numbers or names listed")

    def confirm(self, question: str, default: bool | None = None) -> bool:
        hint = {True: "Y/n", False: "y/N", None: "y/n"}[default]
        while True:
            raw = self._line(f"\n{question} [{hint}]").lower()
            if not raw and default is not None:
                return default
            if raw in _YES or raw in _NO:
                return raw in _YES
            self._complain("answer yes or no")

    def number(self, question: str, *, percent: bool = False) -> float:
        while True:
            raw = self._line(f"\n{question}").replace(",", "").replace("_", "").rstrip("%")
            try:
                value = float(raw) if percent else int(raw)
            except ValueError:
                value = -1
            if 0 <= value <= (100 if percent else float("inf")):
                return value
            self._complain(
                "enter a percentage from 0 to 100" if percent else "enter a whole number"
            )


def _options(channel: str) -> list[tuple[str, str]]:
    methods = load_rules().methods
    return [(name, m.label) for (ch, name), m in methods.items() if ch == channel]


def _volume(ask: Asker, brand: str, merchant: bool) -> dict[str, Any]:
    yearly = int(ask.number(f"{brand} transactions in the last 12 months (all channels):"))
    out: dict[str, Any] = {"yearly": yearly}
    if merchant:
        share = ask.number(
            f"Share of those {brand} transactions that were e-commerce (%):", percent=True
        )
        out["ecommerce_share"] = round(share / 100, 6)
    return out


def _channels(ask: Asker, doc: dict[str, Any]) -> None:
    doc["cardshield_operator"] = ask.choose(
        "Who runs cardshield for you?",
        [
            ("service_provider", "a PCI DSS compliant service provider"),
            ("merchant", "we run it ourselves, on our own systems"),
        ],
        default="service_provider",
    )
    channels = {
        "ecommerce": ask.choose_many("Which e-commerce methods do you use?", _options("ecommerce")),
        "phone": ask.choose_many("Which telephone methods do you use?", _options("phone")),
        "card_present": ask.choose_many("Which card-present methods?", _options("card_present")),
    }
    doc["channels"] = {k: v for k, v in channels.items() if v}
    if "hosted_fields_iframe" in channels["ecommerce"]:
        controls = ask.confirm(
            "Does the page that embeds the hosted fields run script controls "
            "(PCI DSS 6.4.3 and 11.6.1 or equivalent)?"
        )
        confirmation = ask.confirm(
            "Has your provider confirmed in writing that its embedded form protects your page "
            "from script attacks when implemented per its instructions (PCI SSC FAQ 1588)?"
        )
        doc["script_controls"] = {
            "requirements_6_4_3_and_11_6_1": controls,
            "provider_confirmation": confirmation,
        }
    if {"agent_hears_card", "virtual_terminal"} & set(channels["phone"]):
        into = ask.choose(
            "Where do staff key the card numbers they hear or receive?",
            [
                ("virtual_terminal", "a provider-hosted virtual terminal in a browser"),
                ("p2pe_terminal", "a terminal of a validated P2PE solution"),
                ("dial_out_terminal", "a standalone dial-out terminal"),
                ("ip_terminal", "a standalone PTS terminal on IP"),
                ("merchant_systems", "our own systems (CRM, order system, POS software)"),
            ],
        )
        isolated = into == "virtual_terminal" and ask.confirm(
            "Is the computer used for the virtual terminal isolated (one location, no link to "
            "other systems, no card reader, no software that stores card data)?"
        )
        doc["phone_keying"] = {"into": into, "isolated_device": isolated}
    if "pos_system" in channels["card_present"]:
        doc["pos_system"] = {
            "isolated": ask.confirm(
                "Is the POS system connected to no other system, and the location to no other?"
            )
        }
    on_phone = bool(channels["phone"])
    doc["card_data"] = {
        "reaches_merchant_systems": ask.confirm(
            "Do card numbers ever reach your own servers, databases, logs, e-mail or files?"
        ),
        "in_recordings": on_phone
        and ask.confirm("Can call or screen recordings contain card numbers or codes?"),
        "on_merchant_telephony": on_phone
        and ask.confirm(
            "Does card data spoken or keyed on calls cross your own VoIP telephony before the "
            "provider takes it?"
        ),
    }


def run_questionnaire(ask: Asker) -> dict[str, Any]:
    """Ask every question that matters and return the answers document (not yet validated)."""
    doc: dict[str, Any] = {"version": 1}
    doc["entity"] = ask.choose(
        "Are you a merchant or a service provider?",
        [
            ("merchant", "you accept cards for your own sales"),
            ("service_provider", "you store, process or transmit card data for others"),
        ],
        default="merchant",
    )
    merchant = doc["entity"] == "merchant"
    if merchant:
        _channels(ask, doc)
    else:
        doc["channels"] = {}
        doc["card_data"] = dict.fromkeys(
            ("reaches_merchant_systems", "in_recordings", "on_merchant_telephony"), False
        )
        doc["service_provider"] = {
            "role": ask.choose(
                "Which Mastercard service provider category are you?",
                [
                    ("data_storage_entity", "you store, process or transmit card data (DSE)"),
                    ("third_party_processor", "you process transactions for acquirers (TPP)"),
                ],
                default="data_storage_entity",
            )
        }
    transactions = {
        "visa": _volume(ask, "Visa", merchant),
        "mastercard": _volume(ask, "Mastercard", merchant),
    }
    maestro = _volume(ask, "Maestro", merchant)
    if maestro["yearly"]:
        transactions["maestro"] = maestro
    doc["transactions"] = transactions
    doc["past_compromise"] = ask.confirm(
        "Have you ever suffered a hack or attack that compromised account data?", default=False
    )
    doc["designated_level_1"] = ask.confirm(
        "Has a brand or your acquirer told you to validate as Level 1?", default=False
    )
    return doc
