"""Look-alikes: card-shaped numbers that their context shows to be something else.

A random digit run with a card brand's prefix and length passes Luhn one time in ten, so
logs and exports full of phone numbers, IBANs, tracking numbers and ids are full of
"cards". The rules that tell them apart are data, in ``lookalikes.toml`` beside this
module, each with its reason; this module only knows how to check the five kinds:

* ``iban``: the digits lie inside a string that is an IBAN by its structure (country code
  with its registered length, check digits) and its ISO 7064 mod 97-10 checksum;
* ``prefix``: a pattern that matches the text right before the number (``+`` of E.164,
  ``tel:``);
* ``decimal``: the digits are one number with a decimal point or comma and one to three
  digits after it (an amount: ``6201305889196.91``);
* ``label``: the key or words right before the number on its line, or its column's name
  (CSV header, database column), contain one of the rule's words. ``free_text = false``
  rules need a key (``key=``, ``"key":``, ``<Key>``, a column), so the words of a sentence
  ("the order 4111...") do not count for them;
* ``glued``: letters or ``_`` glued to the digits, i.e. part of an identifier.

A label naming a card (the ``[card]`` words) outranks the label and glue rules. Labels,
prefixes and glue are read around the whole digit run a number was found in. Only numbers
found as PANs are checked: track data is always card data.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

_RULES_FILE = "lookalikes.toml"

# Registered IBAN lengths by country (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27,
    "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

# How far before a number its label may start, and how far back an IBAN may begin.
_LABEL_REACH = 80
_IBAN_REACH = 40
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})([0-9]{2})")
# The characters of an IBAN after its check digits: alphanumerics, maybe grouped by single
# spaces, dashes or URL-encoded spaces ("+", "%20"); anything else ends it.
_IBAN_TOKEN = re.compile(r"[A-Za-z0-9]|(?:[ \-+]|%20)(?=[A-Za-z0-9])")

_NAME = r"[A-Za-z][A-Za-z0-9_.\-\[\]%]{0,48}"
# A key: a name (up to three words), maybe quoted, then an assignment, maybe a quote.
_KEYED = re.compile(
    rf"({_NAME}(?:[ ]{_NAME}){{0,2}})[\"']?(?:\]|%5[Dd])?[ \t]*"
    r"(?:=>|->|[:=>]|%3[AaDd])[ \t]*(?:[\"']|%22|\\\")?[ \t]*(?:[+(]|%2[Bb])?$"
)
# Free text: up to three words right before the number.
_FREE = re.compile(rf"((?:{_NAME}[ \t]+){{1,3}})(?:[+(]|%2[Bb])?$")
_URL_ESCAPE_BEFORE = re.compile(r"%[0-9A-Fa-f]{2}$")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])")
_LETTERS_BEFORE = re.compile(r"[A-Za-z]+$")
_LETTERS_AFTER = re.compile(r"[A-Za-z]+")
# What a digit run is made of, read leftwards from a number: digits and the separators of
# cardshield.redaction.text (with their URL escapes).
_RUN_LEFT = re.compile(r"(?:[0-9]|[ \t.,+_/\-]|%(?:2[0BCDEFbcdef]|5[Ff]))*$")
_SEPARATORS = frozenset(" \t.,+_/-")
_DECIMAL = re.compile(r"[0-9]+[.,][0-9]{1,3}")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: str  # "iban", "prefix", "label" or "glued"
    reason: str
    words: frozenset[str] = frozenset()
    free_text: bool = False
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    card_words: frozenset[str]


_KINDS = frozenset({"iban", "prefix", "decimal", "label", "glued"})


def parse_rules(text: str) -> RuleSet:
    """A rule set from the TOML text of a rules file; ValueError names what is wrong."""
    data = tomllib.loads(text)
    rules: list[Rule] = []
    for i, raw in enumerate(data.get("rule", [])):
        name, kind, reason = raw.get("name"), raw.get("kind"), raw.get("reason")
        if not name or kind not in _KINDS or not reason:
            raise ValueError(f"rule {i + 1}: needs a name, a reason and a kind in {sorted(_KINDS)}")
        pattern = re.compile(raw["pattern"]) if kind == "prefix" else None
        words = frozenset(w.lower() for w in raw.get("words", ()))
        if kind == "label" and not words:
            raise ValueError(f"rule {name}: a label rule needs words")
        rules.append(Rule(name, kind, reason, words, bool(raw.get("free_text")), pattern))
    card = frozenset(w.lower() for w in data.get("card", {}).get("words", ()))
    return RuleSet(tuple(rules), card)


@cache
def default_rules() -> RuleSet:
    text = resources.files("cardshield.discovery").joinpath(_RULES_FILE).read_text("utf-8")
    return parse_rules(text)


def label_words(name: str) -> frozenset[str]:
    """The words of a key or column name, lower-cased, plus the whole name run together:
    ``trackingNumber`` -> {tracking, number, trackingnumber}; ``card%5Bnumber%5D`` ->
    {card, number, cardnumber}."""
    name = re.sub(r"%5[Bb]|%5[Dd]", " ", name)
    parts = [p.lower() for p in _WORD_SPLIT.split(name) if p]
    return frozenset([*parts, "".join(parts)])


@dataclass(frozen=True, slots=True)
class Label:
    words: frozenset[str]
    keyed: bool  # a key or a column, not the words of a sentence


def _labels(text: str, start: int, column: str | None) -> list[Label]:
    line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
    before = text[max(line_start, start - _LABEL_REACH) : start]
    labels: list[Label] = []
    keyed = _KEYED.search(before)
    if keyed is not None:
        labels.append(Label(label_words(keyed.group(1)), True))
    else:
        free = _FREE.search(before)
        if free is not None:
            labels.append(Label(label_words(free.group(1)), False))
    if column:
        labels.append(Label(label_words(column), True))
    return labels


def _mod97(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    digits = "".join(str(int(c, 36)) for c in moved)
    return int(digits) % 97 == 1


def _in_iban(text: str, start: int, end: int) -> bool:
    for m in _IBAN_START.finditer(text, max(0, start - _IBAN_REACH), start + 1):
        country = m.group(1).upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        compact, stop = country + m.group(2), m.end()
        pos = m.end()
        while len(compact) < length:
            token = _IBAN_TOKEN.match(text, pos)
            if token is None:
                break
            pos = token.end()
            if token.group().isalnum():
                compact += token.group().upper()
                stop = pos
        if len(compact) == length and stop >= end and _mod97(compact):
            return True
    return False


def _glued(text: str, start: int, end: int, card_words: frozenset[str]) -> bool:
    if start > 0:
        before = text[start - 1]
        if (before.isascii() and before.isalpha()) or before == "_":
            if _URL_ESCAPE_BEFORE.search(text, max(0, start - 3), start):
                return False  # %3D4111...: an escaped "=", not a letter
            letters = _LETTERS_BEFORE.search(text, max(0, start - 24), start)
            word = letters.group().lower() if letters else ""
            return word not in card_words
        if before in "-_" and start > 1 and text[start - 2].isascii() and text[start - 2].isalnum():
            letters = _LETTERS_BEFORE.search(text, max(0, start - 25), start - 1)
            return not (letters and letters.group().lower() in card_words)
    if end < len(text):
        after = text[end]
        if after == "_" or (after.isascii() and after.isalpha()):
            letters = _LETTERS_AFTER.match(text, end)
            return not (letters and letters.group().lower() in card_words)
    return False


def run_start(text: str, start: int) -> int:
    """Where the digit run holding ``text[start]`` begins: labels and prefixes are read
    before the run, not before a number cut from its middle (``IBAN=PL64+2118+...``)."""
    lo = max(0, start - _LABEL_REACH)
    m = _RUN_LEFT.search(text, lo, start)
    i = m.start() if m is not None else start
    while i < start and not text[i].isdigit():
        i += 1 + (2 if text[i] == "%" else 0)  # leading separators belong to the label
    return min(i, start)


def lookalike(
    text: str, start: int, end: int, *, column: str | None = None, rules: RuleSet | None = None
) -> str | None:
    """The name of the first rule that shows ``text[start:end]`` (a PAN-shaped, Luhn-valid
    number) to be something else, or None when it stays a card."""
    ruleset = rules or default_rules()
    head = run_start(text, start)
    labels: list[Label] | None = None
    card_named: bool | None = None
    for rule in ruleset.rules:
        if rule.kind == "iban":
            if _in_iban(text, start, end):
                return rule.name
            continue
        if rule.kind == "prefix":
            assert rule.pattern is not None
            if rule.pattern.search(text[max(0, head - 16) : head]):
                return rule.name
            continue
        if rule.kind == "decimal":
            if _DECIMAL.fullmatch(text, start, end):
                return rule.name
            continue
        if labels is None:
            labels = _labels(text, head, column)
            card_named = any(label.words & ruleset.card_words for label in labels)
        if card_named:
            continue
        if rule.kind == "glued":
            if _glued(text, start, end, ruleset.card_words):
                return rule.name
        elif any((label.keyed or rule.free_text) and label.words & rule.words for label in labels):
            return rule.name
    return None
