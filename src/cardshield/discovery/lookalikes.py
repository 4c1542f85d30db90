"""Look-alikes: card-shaped numbers that their context shows to be something else.

A random digit run with a card brand's prefix and length passes Luhn one time in ten, so
logs and exports full of phone numbers, IBANs, tracking numbers and ids are full of
"cards". The rules that tell them apart are data, in ``lookalikes.toml`` beside this
module, each with its reason; this module only knows how to check the kinds:

* ``iban``: the digits lie inside a string that is an IBAN by its structure (country code
  with its registered length, check digits) and its ISO 7064 mod 97-10 checksum;
* ``prefix``: a pattern that matches the text right before the number on its line (``+``
  of E.164, ``tel:``);
* ``decimal``: the digits are one number with a decimal point or comma and one to three
  digits after it (an amount: ``6201305889196.91``);
* ``fields``: in a delimited file or a database cell (the number has a column), the digits
  run across a field delimiter: two cells read together;
* ``label``: the number's labels contain one of the rule's words. A label is the key or
  words right before the number on its line, the header cell of its table row
  (``<th>Phone</th><td>``), the closing tag after it, or its column's name (CSV header,
  worksheet header, SQL dump or database column). ``free_text = false`` rules need a key
  (``key=``, ``"key":``, ``<Key>``, a lone field name such as ``user_id``, a column), so the
  words of a sentence ("the order 4111...") do not count for them. Words are compared
  lower-cased, split at case changes, and run together whole and in pairs, so
  ``Order number``, ``order_number`` and ``orderNumber`` all hold ``ordernumber``;
* ``routing``: a labelled ABA routing number with a valid checksum comes before the number
  on its line (a US bank account);
* ``glued``: letters or ``_`` glued to the digits, i.e. part of an identifier.

A label naming a card (the ``[card]`` words), or an expiry date or security code as the
field right after the number (``[card] next``), outranks the label, routing and glue rules.
Labels, prefixes and glue are read around the whole printed number a card was cut from.
Only numbers found as PANs are checked: track data is always card data.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from functools import cache, lru_cache
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

# Labels are read right to left: the patterns below match the text before a number
# *reversed*, anchored at the number, so that no search tries every start position of the
# line (the forward form of each is in its comment).
_NAME_REV = r"[A-Za-z0-9_.\-\[\]%]{0,48}[A-Za-z]"  # [A-Za-z][A-Za-z0-9_.\-\[\]%]{0,48}
_QUOTE_REV = r"(?:[\"']\\*|22%)"  # a quote, maybe escaped (\" in JSON inside a string), %22
# A key: a name (up to three words), maybe quoted, then an assignment, maybe a quote:
# NAME( NAME){0,2} QUOTE? (]|%5D)? OP QUOTE? (+|(|%2B)? <number>
_KEYED_REV = re.compile(
    rf"(?:[+(]|[Bb]2%)?[ \t]*{_QUOTE_REV}?[ \t]*(?:>=|>-|[:=>]|[AaDd]3%)[ \t]*"
    rf"(?:\]|[Dd]5%)?{_QUOTE_REV}?({_NAME_REV}(?:[ ]{_NAME_REV}){{0,2}})"
)
# Free text: up to three words right before the number: (NAME[ \t]+){1,3} (+|(|%2B)?
_FREE_REV = re.compile(rf"(?:[+(]|[Bb]2%)?((?:[ \t]+{_NAME_REV}){{1,3}})")
# A table row that pairs a header cell with the value cell: <th>Phone</th><td> (raw
# markup) or, in text stripped of tags, the cell before it: Phone<RS>\t<RS>\t.
_CELL_REV = re.compile(
    r"(?i)[ \t]*>(?:[^<>]*\s)?(?:dt|dd)<[ \t]*>[ \t]*(?:ht|dt|td)/<([^<>]{1,48})>"
    r"(?:[^<>]*\s)?(?:ht|dt|td)<"
)
_STRIPPED_CELL_REV = re.compile(r"[ \t]*(?:\x1e\t?[ \t]*)+([^\x1e\t\n]{1,48})(?=[\x1e\t\n]|\Z)")
# What follows a number: the closing tag of its element, then the next field's name (an
# element or a key). ``</AccountNumber><Expiry>`` or ``&exp=``: a card's expiry date comes
# with it, which nothing else has.
_NEXT_NAME = r"(?:[A-Za-z][\w.\-]*:)?([A-Za-z][\w.\-]{0,40})"
_AFTER = re.compile(
    r"[ \t]*(?:\\*[\"']|%22)?[ \t\r\n]*"
    rf"(?:</{_NEXT_NAME}[ \t]*>)?"
    r"[ \t]*(?:[,;&|]|%26)?[ \t]*"
    rf"(?:<{_NEXT_NAME}|(?:\\*[\"']|%22)?([A-Za-z][A-Za-z0-9_.\-\[\]%]{{0,40}}?)"
    r"(?:\\*[\"']|%22)?[ \t]*(?:[:=]|%3[AaDd]))?"
)
# An ABA routing number (nine digits, labelled) before the number on its line.
_ROUTING = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:routing|aba|rtn|transit)(?:[ _\-]?(?:number|no|nr|num|code))?"
    r"(?:\\*[\"'])?[ \t]*(?:[:=#]|%3[AaDd])?[ \t]*(?:\\*[\"'])?[ \t]*([0-9]{9})(?![0-9])"
)
_URL_ESCAPE_BEFORE = re.compile(r"%[0-9A-Fa-f]{2}$")
_TOKEN_SPLIT = re.compile(r"%5[BbDd]|[^A-Za-z0-9]+")
_CAMEL_SPLIT = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+|[a-z]+(?:[A-Z][a-z0-9]+)+")
_LETTERS_BEFORE = re.compile(r"[A-Za-z]+$")
_LETTERS_AFTER = re.compile(r"[A-Za-z]+")
# Separators between the digit groups of one printed number, read leftwards from a number
# (one between two groups; tabs and ", " separate fields, not groups).
_GROUP_SEPARATORS = frozenset(" .,+_/-")
_ESCAPED_SEPARATORS = frozenset({"%20", "%2B", "%2C", "%2D", "%2E", "%2F", "%5F"})
_DECIMAL = re.compile(r"[0-9]+[.,][0-9]{1,3}")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: str  # one of _KINDS
    reason: str
    words: frozenset[str] = frozenset()
    free_text: bool = False
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    card_words: frozenset[str]
    # Names of the field right after a number that make it a card (expiry, security code).
    card_next: frozenset[str] = frozenset()

    def without_kind(self, kind: str) -> RuleSet:
        """The same rules but those of ``kind``, with the card words kept."""
        return replace(self, rules=tuple(r for r in self.rules if r.kind != kind))


_KINDS = frozenset({"iban", "prefix", "decimal", "fields", "label", "glued", "routing"})


def parse_rules(text: str) -> RuleSet:
    """A rule set from the TOML text of a rules file; ValueError names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None
    rules: list[Rule] = []
    names: set[str] = set()
    for i, raw in enumerate(data.get("rule", [])):
        name, kind, reason = raw.get("name"), raw.get("kind"), raw.get("reason")
        if not name or kind not in _KINDS or not reason:
            raise ValueError(f"rule {i + 1}: needs a name, a reason and a kind in {sorted(_KINDS)}")
        if name in names:
            raise ValueError(f"rule {name}: the name is used twice")
        names.add(name)
        pattern = None
        if kind == "prefix":
            if not raw.get("pattern"):
                raise ValueError(f"rule {name}: a prefix rule needs a pattern")
            try:
                pattern = re.compile(raw["pattern"])
            except re.error as exc:
                raise ValueError(f"rule {name}: bad pattern: {exc}") from None
        words = frozenset(w.lower() for w in raw.get("words", ()))
        if kind == "label" and not words:
            raise ValueError(f"rule {name}: a label rule needs words")
        rules.append(Rule(name, kind, reason, words, bool(raw.get("free_text")), pattern))
    card = data.get("card", {})
    return RuleSet(
        tuple(rules),
        frozenset(w.lower() for w in card.get("words", ())),
        frozenset(w.lower() for w in card.get("next", ())),
    )


@cache
def default_rules() -> RuleSet:
    text = resources.files("cardshield.discovery").joinpath(_RULES_FILE).read_text("utf-8")
    return parse_rules(text)


@lru_cache(maxsize=4096)  # logs repeat their keys: rid=, phone=, ...
def label_words(name: str) -> frozenset[str]:
    """The words of a key or column name, lower-cased, plus the whole name run together and
    each two neighbouring words run together: ``trackingNumber`` -> {tracking, number,
    trackingnumber}; ``card%5Bnumber%5D`` -> {card, number, cardnumber}; ``FedEx Ground``
    -> {fed, ex, ground, fedex, fedexground}; ``Order number`` -> {..., ordernumber}."""
    tokens = [t for t in _TOKEN_SPLIT.split(name) if t]
    words = [t.lower() for t in tokens]
    parts: list[str] = []
    for token in tokens:
        parts.extend(p.lower() for p in _CAMEL_SPLIT.split(token) if p)
    pairs = ["".join(words[i : i + 2]) for i in range(len(words) - 1)]
    return frozenset([*parts, *words, *pairs, "".join(parts)])


@dataclass(frozen=True, slots=True)
class Label:
    words: frozenset[str]
    keyed: bool  # a key or a column, not the words of a sentence


def _line_start(text: str, pos: int) -> int:
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def _labels(text: str, head: int, end: int, column: str | None) -> tuple[list[Label], str]:
    """The labels of the number that starts its run at ``head`` and ends at ``end``, and
    the name of the field after it ("" when none)."""
    before = text[max(_line_start(text, head), head - _LABEL_REACH) : head]
    rev = before[::-1]
    labels: list[Label] = []
    keyed = _KEYED_REV.match(rev)
    if keyed is not None:
        labels.append(Label(label_words(keyed.group(1)[::-1]), True))
        cell = _CELL_REV.match(rev)
        if cell is not None:
            labels.append(Label(label_words(cell.group(1)[::-1]), True))
    else:
        cell = _STRIPPED_CELL_REV.match(rev)
        if cell is not None:
            labels.append(Label(label_words(cell.group(1)[::-1]), True))
        free = _FREE_REV.match(rev)
        if free is not None:
            phrase = free.group(1)[::-1].strip()
            # A lone field name (user_id, messageId) is a key even without "=".
            labels.append(Label(label_words(phrase), _IDENTIFIER.fullmatch(phrase) is not None))
    after = _AFTER.match(text, end)
    closing, next_name = "", ""
    if after is not None:
        closing = after.group(1) or ""
        next_name = after.group(2) or after.group(3) or ""
    if closing:
        labels.append(Label(label_words(closing), True))
    if column:
        labels.append(Label(label_words(column), True))
    return labels, next_name


def _aba_valid(digits: str) -> bool:
    d = [int(c) for c in digits]
    total = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]
    return total % 10 == 0 and digits != "000000000"


def _after_routing(text: str, head: int) -> bool:
    before = text[max(_line_start(text, head), head - _LABEL_REACH) : head]
    return any(_aba_valid(m.group(1)) for m in _ROUTING.finditer(before))


# Letters as ISO 7064 reads them: A=10 ... Z=35.
_AS_NUMBERS = {ord(c): str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def _mod97(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int(moved.translate(_AS_NUMBERS)) % 97 == 1


@cache
def _iban_body(chars: int) -> re.Pattern[str]:
    """``chars`` alphanumerics, maybe grouped by single spaces, dashes or URL-encoded
    spaces (``+``, ``%20``)."""
    return re.compile(rf"(?:(?:[ \-+]|%20)?[A-Za-z0-9]){{{chars}}}")


_IBAN_SEPARATORS = re.compile(r"[ \-+]|%20")


def _in_iban(text: str, start: int, end: int) -> bool:
    # An IBAN that starts at or before the number; its check digits may be the number's
    # first digits (the run of IBAN=PT50+2393+... starts at "50").
    for m in _IBAN_START.finditer(text, max(0, start - _IBAN_REACH), start + 4):
        if m.start() > start:
            break
        country = m.group(1).upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        body = _iban_body(length - 4).match(text, m.end())
        if body is None or body.end() < end:
            continue
        compact = country + m.group(2) + _IBAN_SEPARATORS.sub("", body.group()).upper()
        stop = body.end()
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
    """Where the printed number holding ``text[start]`` begins: labels and prefixes are
    read before it, not before a number cut from its middle (``IBAN=PL64+2118+...``). The
    groups of one number are joined by one separator (a space, ``- . , + _ /`` or its URL
    escape); a tab, a line break or ", " ends it (fields, not groups)."""
    lo = max(0, start - _LABEL_REACH)
    i = start
    while i > lo:
        j = i - 1
        if text[j] in _GROUP_SEPARATORS:
            pass
        elif j >= 2 and text[j - 2] == "%" and text[j - 2 : i].upper() in _ESCAPED_SEPARATORS:
            j -= 2
        else:
            break
        k = j
        while k > lo and "0" <= text[k - 1] <= "9":
            k -= 1
        if k == j:
            break
        i = k
    return i


@dataclass(frozen=True, slots=True)
class _Plan:
    """A rule set arranged for speed: the rules that read the number's own shape, in
    order, then the label-phase rules (labels, glue, routing), with the label rules
    indexed by word so that a label is looked up once instead of against every rule."""

    structural: tuple[Rule, ...]
    phase: tuple[Rule, ...]  # label, glued and routing rules, in file order
    keyed: dict[str, tuple[int, ...]]  # word -> positions in phase of label rules
    free: dict[str, tuple[int, ...]]  # the same, free-text label rules only


_PLANS: dict[int, tuple[RuleSet, _Plan]] = {}


def _plan(ruleset: RuleSet) -> _Plan:
    """The plan of a rule set, kept by identity: hashing a rule set (every rule and its
    words) on each call would cost more than the rules themselves."""
    kept = _PLANS.get(id(ruleset))
    if kept is not None and kept[0] is ruleset:
        return kept[1]
    plan = _make_plan(ruleset)
    _PLANS[id(ruleset)] = (ruleset, plan)
    return plan


def _make_plan(ruleset: RuleSet) -> _Plan:
    structural = tuple(r for r in ruleset.rules if r.kind in _STRUCTURAL)
    phase = tuple(r for r in ruleset.rules if r.kind not in _STRUCTURAL)
    keyed: dict[str, list[int]] = {}
    free: dict[str, list[int]] = {}
    for i, rule in enumerate(phase):
        if rule.kind != "label":
            continue
        for word in rule.words:
            keyed.setdefault(word, []).append(i)
            if rule.free_text:
                free.setdefault(word, []).append(i)
    return _Plan(
        structural,
        phase,
        {w: tuple(v) for w, v in keyed.items()},
        {w: tuple(v) for w, v in free.items()},
    )


_STRUCTURAL = frozenset({"iban", "prefix", "decimal", "fields"})


def _first_label_rule(plan: _Plan, labels: list[Label]) -> int:
    """The position in ``plan.phase`` of the first label rule a label fires (or past the
    end)."""
    first = len(plan.phase)
    for label in labels:
        index = plan.keyed if label.keyed else plan.free
        for word in label.words:
            hit = index.get(word)
            if hit is not None and hit[0] < first:
                first = hit[0]
    return first


def lookalike(
    text: str, start: int, end: int, *, column: str | None = None, rules: RuleSet | None = None
) -> str | None:
    """The name of the first rule that shows ``text[start:end]`` (a PAN-shaped, Luhn-valid
    number) to be something else, or None when it stays a card."""
    ruleset = rules or default_rules()
    plan = _plan(ruleset)
    head = run_start(text, start)
    for rule in plan.structural:
        if rule.kind == "iban":
            if _in_iban(text, start, end):
                return rule.name
        elif rule.kind == "prefix":
            assert rule.pattern is not None
            lo = max(_line_start(text, head), head - 16)
            if rule.pattern.search(text[lo:head]):
                return rule.name
        elif rule.kind == "decimal":
            if _DECIMAL.fullmatch(text, start, end):
                return rule.name
        elif column is not None and "\t" in text[start:end]:  # fields
            return rule.name
    if not plan.phase:
        return None
    labels, next_name = _labels(text, head, end, column)
    if any(label.words & ruleset.card_words for label in labels) or (
        next_name and label_words(next_name) & ruleset.card_next
    ):
        return None
    first = _first_label_rule(plan, labels)
    for rule in plan.phase[:first]:
        if rule.kind == "glued":
            if _glued(text, start, end, ruleset.card_words):
                return rule.name
        elif rule.kind == "routing" and _after_routing(text, head):
            return rule.name
    return plan.phase[first].name if first < len(plan.phase) else None
