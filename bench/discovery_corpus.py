"""The corpus of the discovery benchmark: planted cards among hard, realistic look-alikes.

Everything is generated, deterministically from a seed, with published formats:

* **Planted cards** (the truth): every brand and length of the IIN table, Luhn-valid, written
  as people and programs write them: contiguous; 4-4-4-4, 4-6-5 and 4-6-4 groups with space,
  dash or dot; ``+``, ``%20`` and ``%2D`` in URL query strings (``card%5Bnumber%5D=...``);
  JSON, key=value, CSV columns, XML elements, HTML, free text, track 1 and track 2 data; at
  the start or end of a line, inside quotes, after a timestamp; split across Word runs or
  HTML spans; in spreadsheet, database and e-mail cells and bodies.
* **Look-alikes** (never to be reported): each one holds a digit run (or a window of whole
  digit groups) that passes the brand table *and* Luhn, so only its context tells it apart:
  phone numbers (E.164, ``tel:`` URIs, keyed national forms, grouped), IBANs (ISO 13616 with
  ISO 7064 mod 97-10 check digits and the national check digits where a country defines a
  simple one), other bank account numbers, parcel tracking numbers (FedEx, USPS and UPS
  with their check digits, DHL eCommerce), ids glued to letters, ``_`` or ``-``, base62 and
  hex ids, versions, decimals, coordinates, OIDs, snowflake-style, request and order ids.
  Cards are also planted in the same shapes of line as the look-alikes (``card=`` next to
  ``phone=``, a CSV with both ``phone`` and ``card`` columns), so a rule that drops a number
  by the shape of its line alone loses recall.
* **An estate** of top-level files of every container cardshield opens, and **a digit-dense
  log** in which every line carries ordinary numbers and sparse planted cards.

The truth is a set of keys ``(top-level file, length, first two digits, last four)``;
planted numbers are distinct on that key within a file, and no look-alike shares a key
with a card of its file. Each look-alike key maps to its category, so that a false positive
can be traced back to what produced it.

Generate on its own: ``.venv/bin/python bench/discovery_corpus.py OUT [--dense-mib N]
[--audit]`` (``--audit`` re-reads the text files and lists card-shaped windows that neither
a card nor a look-alike accounts for).
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import re
import sqlite3
import tarfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote, quote_plus

from scan_corpus import _CT, COMMON_ROWS, _zip, docx, grouped, log_line, make_pan, pdf

from cardshield.cards import IIN_TABLE, brand_for, luhn_check_digit, luhn_valid, mask_digits

Key = tuple[str, int, str, str]  # (top-level file, length, first two, last four)
Rows = list[tuple[str, str, tuple[int, ...]]]

ESTATE = "estate"
DENSE = "dense/app-dense.log"


def key_of(top: str, digits: str) -> Key:
    return (top, len(digits), digits[:2], digits[-4:])


def card_shaped(digits: str) -> bool:
    return 12 <= len(digits) <= 19 and brand_for(digits) is not None and luhn_valid(digits)


# --------------------------------------------------------------------------- windows

# Digit groups joined by one to three separators (URL escapes are read as one separator).
_ESCAPE = re.compile(r"%(?:2[0-9A-Fa-f]|5[BDFbdf]|0[9ADad]|[Cc]2%[Aa]0)")
_GROUPED_RUN = re.compile(r"[0-9]+(?:[ \t.,+_/\-]{1,3}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")


def card_windows(text: str) -> list[str]:
    """Every card-shaped number a scanner could read out of ``text``: each window of whole,
    consecutive digit groups (a superset of what any card rule reads out of it)."""
    found: list[str] = []
    for run in _GROUPED_RUN.finditer(_ESCAPE.sub(" ", text)):
        groups = _GROUP.findall(run.group())
        for i in range(len(groups)):
            digits = ""
            for group in groups[i:]:
                digits += group
                if len(digits) > 19:
                    break
                if len(digits) >= 12 and card_shaped(digits):
                    found.append(digits)
    return found


# --------------------------------------------------------------------------- numbers

ALL_COMBOS = [(r.low, r.high, n) for r in IIN_TABLE for n in sorted(r.lengths)]
_ROWS_BY_LENGTH: dict[int, list[tuple[str, str]]] = {}
for _row in IIN_TABLE:
    for _n in _row.lengths:
        _ROWS_BY_LENGTH.setdefault(_n, []).append((_row.low, _row.high))
_DIGITS = "0123456789"


def rand_digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10**n)).zfill(n) if n > 0 else ""


def card_run(rng: random.Random, length: int) -> str:
    """A brand-shaped, Luhn-valid digit run of ``length`` digits (for look-alikes: the
    distribution of random digits conditioned on passing the checks)."""
    while True:
        low, high = rng.choice(_ROWS_BY_LENGTH[length])
        prefix = str(rng.randint(int(low), int(high))).zfill(len(low))
        body = prefix + rand_digits(rng, length - len(prefix) - 1)
        digits = body + luhn_check_digit(body)
        if brand_for(digits) is not None:  # an overlapping row may claim the prefix
            return digits


def luhn_tail(rng: random.Random, head: str, length: int) -> str:
    body = head + rand_digits(rng, length - len(head) - 1)
    return body + luhn_check_digit(body)


def mod10_31(digits: str) -> str:
    """Check digit of USPS and FedEx Ground numbers: weights 3, 1 from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def fedex_express_check(digits11: str) -> str:
    """FedEx Express 12-digit numbers: weights 1, 3, 7 from the right, mod 11, mod 10."""
    weights = (1, 3, 7)
    total = sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(digits11)))
    return str(total % 11 % 10)


def ups_check(body15: str) -> str:
    """UPS 1Z numbers: letters as (ord - 3) mod 10, odd positions doubled."""
    total = 0
    for i, ch in enumerate(body15):
        value = int(ch) if ch.isdigit() else (ord(ch) - 3) % 10
        total += value * 2 if i % 2 else value
    return str((10 - total % 10) % 10)


def aba_check(digits8: str) -> str:
    """ABA routing numbers: 3, 7, 1 weights, total divisible by ten."""
    weights = (3, 7, 1, 3, 7, 1, 3, 7)
    total = sum(int(d) * w for d, w in zip(digits8, weights, strict=True))
    return str((10 - total % 10) % 10)


# --------------------------------------------------------------------------- IBANs

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def iban_check(country: str, bban: str) -> str:
    """ISO 7064 mod 97-10 check digits of an IBAN."""
    text = bban + country + "00"
    number = int("".join(str(int(ch, 36)) for ch in text))
    return f"{98 - number % 97:02d}"


def _fr_rib_key(bank: str, branch: str, account: str) -> str:
    table = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "12345678912345678923456789")
    acct = int(account.translate(table))
    return f"{97 - (89 * int(bank) + 15 * int(branch) + 3 * acct) % 97:02d}"


def _es_control(ten: str) -> str:
    weights = (1, 2, 4, 8, 5, 10, 9, 7, 3, 6)
    c = 11 - sum(int(d) * w for d, w in zip(ten, weights, strict=True)) % 11
    return str({10: 1, 11: 0}.get(c, c))


_IT_ODD = [
    1,
    0,
    5,
    7,
    9,
    13,
    15,
    17,
    19,
    21,
    2,
    4,
    18,
    20,
    11,
    3,
    6,
    8,
    12,
    14,
    16,
    10,
    22,
    25,
    24,
    23,
]


def _it_cin(rest: str) -> str:
    total = 0
    for i, ch in enumerate(rest):
        v = int(ch) if ch.isdigit() else ord(ch) - 65
        total += _IT_ODD[v] if i % 2 == 0 else v
    return _LETTERS[total % 26]


def _bban(rng: random.Random, country: str) -> str:
    d = lambda n: rand_digits(rng, n)  # noqa: E731
    if country == "DE":
        return str(rng.randint(1, 8)) + d(7) + d(10)
    if country == "GB":
        bank, head = rng.choice(
            (
                ("NWBK", "60"),
                ("LOYD", "30"),
                ("BARC", "20"),
                ("HBUK", "40"),
                ("MIDL", "40"),
                ("NAIA", "07"),
            )
        )
        return bank + head + d(4) + d(8)
    if country == "IE":
        bank, head = rng.choice((("AIBK", "93"), ("BOFI", "90"), ("IPBS", "99")))
        return bank + head + d(4) + d(8)
    if country == "FR":
        bank, branch = d(5), d(5)
        account = d(11)
        if rng.random() < 0.4:  # La Banque Postale style: a letter inside the account
            pos = rng.randint(0, 10)
            account = account[:pos] + rng.choice(_LETTERS) + account[pos + 1 :]
        return bank + branch + account + _fr_rib_key(bank, branch, account)
    if country == "NL":
        while True:
            account = d(10)
            if sum(int(c) * (10 - i) for i, c in enumerate(account)) % 11 == 0:
                return rng.choice(("ABNA", "INGB", "RABO", "TRIO", "SNSB")) + account
    if country == "ES":
        bank, branch, account = d(4), d(4), d(10)
        return bank + branch + _es_control("00" + bank + branch) + _es_control(account) + account
    if country == "IT":
        abi, cab = d(5), d(5)
        account = d(12) if rng.random() < 0.7 else "CC" + d(10)
        return _it_cin(abi + cab + account) + abi + cab + account
    if country == "BE":
        first = d(10)
        check = int(first) % 97 or 97
        return first + f"{check:02d}"
    if country == "AT":
        return d(5) + d(11)
    if country == "CH":
        return d(5) + d(12)
    if country == "PT":
        body = d(19)
        return body + f"{98 - int(body) * 100 % 97:02d}"
    if country == "PL":
        return d(8) + d(16)
    raise ValueError(country)


def make_iban(rng: random.Random, country: str) -> str:
    bban = _bban(rng, country)
    return country + iban_check(country, bban) + bban


def group4(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


# Countries whose contiguous IBAN can hold a card-shaped digit run (the others' runs are
# longer than 19 digits or shorter than 12: they only hide cards when printed in groups).
IBAN_CONTIGUOUS = ("GB", "BE", "AT", "CH", "FR")
IBAN_GROUPED = ("DE", "GB", "FR", "NL", "ES", "IT", "BE", "AT", "CH", "PT", "PL", "IE")


# --------------------------------------------------------------------------- look-alikes


@dataclass(frozen=True, slots=True)
class Look:
    """A look-alike: category, the key it is written under, its value, and optional
    renderings for a style that the generic ``label=value`` ones do not cover."""

    category: str
    label: str
    value: str
    sentence: str = "{label}: {v}"  # free text
    custom: dict[str, str] = field(default_factory=dict)


def _phone_digits(rng: random.Random) -> tuple[str, str]:
    """A mobile number whose digits with the country code are brand-shaped and Luhn-valid:
    (country code, national significant number)."""
    cc, prefixes, national = rng.choice(PHONE_PLANS)
    n = rng.choice(national) if isinstance(national, tuple) else national
    full = luhn_tail(rng, cc + rng.choice(prefixes), len(cc) + n)
    return cc, full[len(cc) :]


PHONE_PLANS: list[tuple[str, tuple[str, ...], int | tuple[int, ...]]] = [
    (
        "49",
        (
            "151",
            "152",
            "157",
            "160",
            "162",
            "163",
            "170",
            "171",
            "172",
            "175",
            "176",
            "177",
            "178",
            "179",
        ),
        11,
    ),  # +49 1512 3456789: 13 digits, Visa-shaped
    ("49", ("30", "40", "89", "69", "221", "211", "711", "33056", "35204"), 11),  # landlines
    ("43", ("650", "660", "664", "676", "680", "681", "688", "699"), 11),
    ("62", ("811", "812", "813", "821", "822", "852", "853", "857", "878"), (10, 11)),
    ("63", ("905", "906", "915", "916", "917", "926", "927", "935", "945", "977"), 10),
    ("57", ("300", "301", "310", "311", "312", "313", "314", "320", "321", "350"), 10),
    ("60", ("11",), 10),
]


def _phone_grouped(cc: str, nat: str) -> str:
    if cc == "49":
        return f"+49 {nat[:4]} {nat[4:]}" if nat[0] == "1" else f"+49 {nat[:2]} {nat[2:]}"
    if cc == "43":
        return f"+43 {nat[:3]} {nat[3:7]} {nat[7:]}"
    if cc == "62":
        return f"+62 {nat[:3]}-{nat[3:7]}-{nat[7:]}"
    if cc in ("63", "57"):
        return f"+{cc} {nat[:3]} {nat[3:6]} {nat[6:]}"
    return f"+{cc} {nat[:2]}-{nat[2:6]} {nat[6:]}"


def gen_phone(rng: random.Random, k: int) -> Look:
    cc, nat = _phone_digits(rng)
    if k == 0:
        label = rng.choice(("phone", "mobile", "contact_phone", "phone_number", "tel"))
        return Look("phone/e164", label, f"+{cc}{nat}", "call back on {v}")
    if k == 1:
        return Look(
            "phone/tel_uri",
            "href",
            f"tel:+{cc}{nat}",
            "Phone: {v}",
            {"html": f'<a href="tel:+{cc}{nat}">{_phone_grouped(cc, nat)}</a>'},
        )
    if k == 2:
        label = rng.choice(("phone", "msisdn", "mobile", "fax", "cell", "phone_number"))
        return Look("phone/keyed", label, f"{cc}{nat}", "{label}: {v}")
    if k == 3:
        label = rng.choice(("Mobile", "Phone", "Fax", "Cell", "Tel."))
        return Look("phone/grouped", label, _phone_grouped(cc, nat).lstrip("+"), "{label}: {v}")
    if k == 4:
        label = rng.choice(("phone", "mobile", "fax"))
        return Look("phone/grouped", label, _phone_grouped(cc, nat), "please call {v}")
    label = rng.choice(("msisdn", "caller_id", "ani", "from_number"))
    return Look("phone/e164", label, f"+{cc}{nat}", "incoming call from {v}")


def gen_iban(rng: random.Random, k: int) -> Look:
    label = rng.choice(("iban", "IBAN", "beneficiary_iban", "payout_iban", "debtor_iban"))
    if k == 0:
        iban = make_iban(rng, rng.choice(IBAN_CONTIGUOUS))
        return Look("iban/contiguous", label, iban, "please transfer the refund to {v}")
    iban = make_iban(rng, rng.choice(IBAN_GROUPED))
    return Look("iban/grouped", label, group4(iban), "IBAN: {v}")


def gen_bank_account(rng: random.Random, k: int) -> Look:
    if k == 0:
        routing8 = rng.choice(("0210", "0260", "0110", "1220", "0710", "3222")) + rand_digits(
            rng, 4
        )
        routing = routing8 + aba_check(routing8)
        acct = card_run(rng, rng.randint(12, 17))
        label = rng.choice(("account_number", "acct", "bank_account", "checking_account"))
        return Look(
            "bank_account/us",
            label,
            acct,
            "ACH debit, routing {r}, account {v}".replace("{r}", routing),
            {
                "kv": f"routing={routing} {label}={acct}",
                "json": f'"routing_number": "{routing}", "{label}": "{acct}"',
            },
        )
    if k == 1:
        bban = card_run(rng, 18)  # DE Bankleitzahl (8) + Kontonummer (10)
        return Look(
            "bank_account/bban",
            rng.choice(("bban", "bban_de", "account")),
            bban,
            "Kontoverbindung BLZ {b} Konto {k}".replace("{b}", bban[:8]).replace("{k}", bban[8:])
            + " (BBAN {v})",
        )
    if k == 2:
        d = card_run(rng, 14)  # UK sort code (6) + account number (8)
        value = f"{d[0:2]}-{d[2:4]}-{d[4:6]} {d[6:]}"
        return Look(
            "bank_account/sort_code", "sort_code_account", value, "sort code / account: {v}"
        )
    acct = card_run(rng, rng.choice((12, 13, 14, 16)))
    label = rng.choice(("acct", "account_no", "debit_account", "savings_account"))
    return Look("bank_account/keyed", label, acct, "debited from account {v}")


def gen_tracking(rng: random.Random, k: int) -> Look:
    if k == 0:
        body = rand_digits(rng, 11)
        num = body + fedex_express_check(body)
        value = num if rng.random() < 0.6 else group4(num)
        return Look(
            "tracking/fedex",
            "tracking_number",
            value,
            "FedEx tracking {v}",
            {
                "kv": f"carrier=fedex tracking={value}",
                "json": f'"carrier": "fedex", "tracking_number": "{value}"',
            },
        )
    if k == 1:
        body = rand_digits(rng, 14)
        num = body + mod10_31(body)
        return Look(
            "tracking/fedex",
            "tracking",
            num,
            "carrier: fedex, tracking {v}",
            {"kv": f"carrier: fedex tracking: {num}"},
        )
    if k == 2:
        body = rand_digits(rng, 19)
        num = group4(body + mod10_31(body))
        return Look("tracking/fedex", "tracking_number", num, "FedEx Ground {v}")
    if k in (3, 4):
        if k == 3:
            body = rng.choice(("9400", "9205", "9361", "9270", "9300", "9407")) + rand_digits(
                rng, 17
            )
        else:
            body = rng.choice(("7019", "7020", "7021", "7022")) + rand_digits(rng, 15)
        num = group4(body + mod10_31(body))
        return Look(
            "tracking/usps",
            rng.choice(("tracking", "usps_tracking")),
            num,
            "USPS tracking number {v}",
            {"kv": f'carrier=usps tracking_number="{num}"'},
        )
    if k == 5:
        letters = rng.randint(1, 3)
        shipper = "".join(rng.choice(_LETTERS) for _ in range(letters)) + rand_digits(
            rng, 6 - letters
        )
        body = shipper + rng.choice(("01", "02", "03", "12", "13", "42")) + rand_digits(rng, 7)
        num = "1Z" + body + ups_check(body)
        return Look(
            "tracking/ups",
            rng.choice(("tracking", "tracking_number", "ups")),
            num,
            "UPS {v} out for delivery",
        )
    num = "GM" + card_run(rng, 18)
    return Look(
        "tracking/dhl",
        "tracking_number",
        num,
        "DHL eCommerce shipment {v}",
        {"kv": f"carrier=dhl tracking={num}"},
    )


_B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NONHEX = "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ"


def _b62(rng: random.Random, n: int, alphabet: str = _B62 + _DIGITS) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def gen_glued_id(rng: random.Random, k: int) -> Look:
    run = card_run(rng, rng.choice((13, 14, 15, 16, 16, 16, 17, 18, 19)))
    if k == 0:
        prefix = rng.choice(
            (
                "order_",
                "txn-",
                "sku_",
                "INV-2024-",
                "ORD-",
                "pay_",
                "ref-",
                "cart_",
                "sess-",
                "INV-2023-11-",
            )
        )
        label = rng.choice(("id", "ref", "txn_id", "invoice", "sku", "object"))
        return Look("glued_id/prefix", label, prefix + run, "see {v} for details")
    if k == 1:
        value = (
            rng.choice(("req", "evt", "usr_", "job", "msg"))
            + run
            + rng.choice(("x", "q", "_tmp", "Z", "-retry"))
        )
        return Look(
            "glued_id/wrapped", rng.choice(("request", "event", "key")), value, "retrying {v} now"
        )
    if k == 2:
        value = (
            rng.choice(("cus_", "pi_", "ch_", "acct_", "sub_"))
            + _b62(rng, 3)
            + rng.choice(_NONHEX)
            + run
            + rng.choice(_NONHEX)
            + _b62(rng, 5)
        )
        return Look(
            "glued_id/base62", rng.choice(("id", "customer", "charge")), value, "object {v} updated"
        )
    if k == 3:
        hexa = "abcdef"
        value = (
            _b62(rng, rng.randint(2, 8), "0123456789abcdef")
            + rng.choice(hexa)
            + run
            + rng.choice(hexa)
        )
        value += _b62(rng, max(0, 32 - len(value)), "0123456789abcdef")
        return Look(
            "glued_id/hex", rng.choice(("sha", "etag", "md5", "hash")), value, "checksum {v}"
        )
    if k == 4:
        run = card_run(rng, 16)  # a 24-hex ObjectId whose first 16 hex digits are all digits
        value = run + _b62(rng, 1, "abcdef") + _b62(rng, 7, "0123456789abcdef")
        return Look(
            "glued_id/hex", rng.choice(("_id", "oid", "document_id")), value, "document {v} saved"
        )
    value = f"{rng.choice(('SKU', 'ART', 'PN'))}-{run}-{rng.choice(('BLK', 'XL', 'EU', 'R2'))}"
    return Look(
        "glued_id/prefix",
        rng.choice(("sku", "article", "part_no")),
        value,
        "item {v} back in stock",
    )


def gen_version_decimal(rng: random.Random, k: int) -> Look:
    if k == 0:
        run = card_run(rng, rng.choice((13, 16, 16, 19)))
        return Look(
            "version_decimal/version",
            rng.choice(("version", "build", "app_version")),
            f"v{rng.randint(1, 9)}.{run}",
            "running {v}",
        )
    if k == 1:
        run = card_run(rng, rng.choice((15, 16, 16, 17)))
        return Look(
            "version_decimal/decimal",
            rng.choice(("ratio", "score", "p", "weight")),
            f"0.{run}",
            "model score {v}",
            {"json_raw": f"0.{run}"},
        )
    if k == 2:
        run = card_run(rng, rng.choice((13, 14, 15, 16)))
        cents = f"{rng.randint(0, 99):02d}"
        return Look(
            "version_decimal/amount",
            rng.choice(("total_micros", "balance", "sum")),
            f"{run}.{cents}",
            "ledger sum {v}",
            {"json_raw": f"{run}.{cents}"},
        )
    if k == 3:
        run = card_run(rng, rng.choice((13, 14, 15)))
        whole = rng.choice(("48", "52", "40", "-33", "-0", "13", "2", "-122", "151"))
        return Look(
            "version_decimal/coordinate",
            rng.choice(("lat", "lng", "latitude")),
            f"{whole}.{run}",
            "location {v}",
            {"json_raw": f"{whole}.{run}"},
        )
    if k == 4:
        run = card_run(rng, rng.choice((12, 14, 16)))
        return Look(
            "version_decimal/dotted",
            "oid",
            f"1.3.6.1.4.1.{run}.{rng.randint(1, 9)}.{rng.randint(0, 20)}",
            "trap OID {v}",
        )
    run = card_run(rng, rng.choice((12, 13, 16)))
    return Look(
        "version_decimal/dotted",
        "build",
        f"{rng.randint(1, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}.{run}",
        "deployed build {v}",
    )


def gen_numeric_id(rng: random.Random, k: int) -> Look:
    if k == 0:
        label = rng.choice(
            ("snowflake", "message_id", "user_id", "guild_id", "tweet_id", "channel_id")
        )
        return Look(
            "numeric_id/snowflake",
            label,
            card_run(rng, rng.choice((17, 18, 19))),
            "{label} {v}",
            {"json_raw": "RAW"},
        )
    if k == 1:
        label = rng.choice(("request_id", "trace_id", "correlation_id", "x_request_id"))
        return Look(
            "numeric_id/request", label, card_run(rng, rng.choice((16, 17, 18, 19))), "{label}={v}"
        )
    label = rng.choice(("order_number", "order_no", "invoice_number", "ticket_no", "booking"))
    return Look(
        "numeric_id/order",
        label,
        card_run(rng, rng.choice((12, 13, 14, 15, 16))),
        "Order number {v}",
        {"json_raw": "RAW"},
    )


# Each family: its generator and how many kinds it writes (a kind is kept while a candidate
# is regenerated, so that kinds that rarely pass the checks are not crowded out).
GENERATORS: dict[str, tuple[Callable[[random.Random, int], Look], int]] = {
    "phone": (gen_phone, 6),
    "iban": (gen_iban, 2),
    "bank_account": (gen_bank_account, 4),
    "tracking": (gen_tracking, 7),
    "glued_id": (gen_glued_id, 6),
    "version_decimal": (gen_version_decimal, 6),
    "numeric_id": (gen_numeric_id, 3),
}
# How often each family is drawn when a file does not ask for one.
FAMILY_WEIGHTS = {
    "phone": 5,
    "iban": 3,
    "bank_account": 2,
    "tracking": 3,
    "glued_id": 3,
    "version_decimal": 2,
    "numeric_id": 3,
}


def _json_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(look: Look, style: str) -> str:
    """A look-alike as it appears in a line of the given style."""
    if style in look.custom:
        return look.custom[style]
    label, v = look.label, look.value
    if style == "kv":
        return f'{label}="{v}"' if " " in v else f"{label}={v}"
    if style == "json":
        raw = look.custom.get("json_raw")
        if raw == "RAW":
            return f'"{label}": {v}'
        return f'"{label}": {raw}' if raw else f'"{label}": {_json_str(v)}'
    if style == "url":
        return f"{quote(label)}={quote_plus(v)}"
    if style == "xml":
        tag = "".join(part.capitalize() for part in re.split(r"[_\W]+", label) if part)
        return f"<{tag}>{v}</{tag}>"
    if style == "html":
        return f"<tr><th>{label}</th><td>{v}</td></tr>"
    if style == "text":
        return look.sentence.replace("{label}", label).replace("{v}", v)
    if style == "value":
        return v
    raise ValueError(style)


# --------------------------------------------------------------------------- cards

NAMES = (
    "DOE/JANE",
    "SMITH/JOHN M",
    "MUELLER/ANNA",
    "ROSSI/MARCO",
    "GARCIA/LUCIA",
    "NGUYEN/AN",
    "OKAFOR/CHIDI",
    "TANAKA/YUKI",
)


def track1(rng: random.Random, pan: str) -> str:
    disc = rand_digits(rng, rng.randint(10, 14))
    return f"%B{pan}^{rng.choice(NAMES)}^{rng.randint(26, 30)}{rng.randint(1, 12):02d}101{disc}?"


def track2(rng: random.Random, pan: str) -> str:
    disc = rand_digits(rng, rng.randint(9, 13))
    return f";{pan}={rng.randint(26, 30)}{rng.randint(1, 12):02d}201{disc}?"


def _g(rng: random.Random, pan: str) -> str:
    """Contiguous or grouped with a space, as a value is typed."""
    return pan if rng.random() < 0.5 else grouped(pan, " ")


FREE_TEXT = (
    "customer read out {g} on the call",
    "caller gave card {g} and asked for a refund",
    "Kunde nannte die Kartennummer {g} am Telefon",
    "please charge {g} for the remaining balance",
    "the number on the letter was {g} - please check with the bank",
    "cliente ha dettato la carta {g} al telefono",
)
FREE_TEXT_PERIOD = (
    "my card number is {g}.",
    "Card used for the booking: {g}.",
    "He paid with {g}. Refund approved.",
    "please use my other card {g}.",
)

# Forms of a card in a line of each style (line-level forms are written by the builders).
STYLE_FORMS: dict[str, tuple[str, ...]] = {
    "kv": (
        "contiguous",
        "grouped_space",
        "grouped_dash",
        "grouped_dot",
        "kv",
        "track1",
        "track2",
        "quoted",
        "free_text",
        "json_card_number",
        "json_pan",
        "url_plus",
        "url_bracket",
        "url_pct20",
        "url_pct2d",
    ),
    "json": ("json_card_number", "json_pan"),
    "url": ("url_plus", "url_bracket", "url_pct20", "url_pct2d"),
    "text": (
        "free_text",
        "free_text_period",
        "quoted",
        "grouped_space",
        "grouped_dash",
        "grouped_dot",
        "contiguous",
    ),
    "xml": ("xml",),
}
LINE_FORMS = ("line_start", "line_end", "after_timestamp")


def card_snippet(rng: random.Random, pan: str, form: str, style: str = "kv") -> str:
    """A card as it appears inside a line, written in ``form``."""
    if form == "contiguous":
        return f"{rng.choice(('card', 'cc', 'card no', 'PAN', 'paid with'))} {pan}"
    if form in ("grouped_space", "grouped_dash", "grouped_dot"):
        sep = {"grouped_space": " ", "grouped_dash": "-", "grouped_dot": "."}[form]
        label = rng.choice(("card", "Card number:", "cc#", "card_number=", "PAN"))
        return (
            f"{label} {grouped(pan, sep)}"
            if not label.endswith("=")
            else (f"{label}{grouped(pan, sep)}")
        )
    if form == "kv":
        return f"{rng.choice(('card', 'cc_number', 'pan', 'card_no', 'cardnumber'))}={pan}"
    if form == "track1":
        return f"{rng.choice(('swipe', 'track1', 'raw'))}={track1(rng, pan)}"
    if form == "track2":
        return f"{rng.choice(('track2', 't2', 'raw'))}={track2(rng, pan)}"
    if form == "quoted":
        q = rng.choice(("'", '"'))
        return f"{rng.choice(('note', 'value', 'input', 'comment'))}={q}{_g(rng, pan)}{q}"
    if form == "free_text":
        return rng.choice(FREE_TEXT).replace("{g}", _g(rng, pan))
    if form == "free_text_period":
        return rng.choice(FREE_TEXT_PERIOD).replace("{g}", _g(rng, pan))
    if form == "json_card_number":
        text = f'"card_number": "{_g(rng, pan)}"'
        return text if style == "json" else f"body={{{text}}}"
    if form == "json_pan":
        text = f'"pan": {pan}' if rng.random() < 0.3 else f'"pan":"{pan}"'
        return text if style == "json" else f"payload={{{text}}}"
    if form == "url_plus":
        return f"cc={grouped(pan, '+')}&exp=12%2F27"
    if form == "url_bracket":
        return (
            f"card%5Bnumber%5D={grouped(pan, '+')}&card%5Bexp_month%5D=12&card%5Bexp_year%5D=2027"
        )
    if form == "url_pct20":
        return f"card_number={grouped(pan, '%20')}&save=1"
    if form == "url_pct2d":
        return f"pan={grouped(pan, '%2D')}&step=2"
    if form == "xml":
        tag = rng.choice(("CardNumber", "PAN", "cardNumber", "AccountNumber"))
        return f"<{tag}>{_g(rng, pan)}</{tag}>"
    raise ValueError(form)


# --------------------------------------------------------------------------- truth


INCIDENTAL = "incidental/adjacent"


def area(top: str) -> str:
    return "estate" if top.startswith(ESTATE + "/") else "dense_log"


class Truth:
    """Planted cards and look-alikes, by key, and the counts per category."""

    def __init__(self, rng: random.Random) -> None:
        self.cards: dict[Key, tuple[str, str]] = {}  # key -> (form, masked)
        self.lookalikes: dict[Key, tuple[str, str]] = {}  # key -> (category, masked)
        # Look-alike occurrences by area ("estate", "dense_log") and category.
        self.planted: dict[str, Counter[str]] = {"estate": Counter(), "dense_log": Counter()}
        self.incidental = 0  # card-shaped windows of neighbouring numbers (see account)
        self.written: set[Key] = set()  # planted cards seen in written text
        self.reserved: set[Key] = set()  # keys a pool may still plant
        combos = list(ALL_COMBOS)
        rng.shuffle(combos)
        self._uncovered = combos
        self._form_cycles: dict[str, list[str]] = {}

    def taken(self, key: Key) -> bool:
        return key in self.cards or key in self.lookalikes or key in self.reserved

    def next_form(self, rng: random.Random, style: str) -> str:
        """Forms of a style in turn (shuffled), so that each is used about equally."""
        cycle = self._form_cycles.setdefault(style, [])
        if not cycle:
            cycle.extend(STYLE_FORMS.get(style, LINE_FORMS))
            rng.shuffle(cycle)
        return cycle.pop()

    def new_pan(self, rng: random.Random, top: str, rows: Rows | None = None) -> str:
        while True:
            if rows is not None:
                pan = make_pan(rng, rows)
            elif self._uncovered:  # every brand and length at least once
                low, high, n = self._uncovered[-1]
                pan = make_pan(rng, [(low, high, (n,))])
                if brand_for(pan) is None:  # a prefix that an earlier row claims first
                    continue
            else:
                pan = (
                    make_pan(rng, COMMON_ROWS)
                    if rng.random() < 0.6
                    else card_run(rng, rng.choice(sorted(_ROWS_BY_LENGTH)))
                )
            if brand_for(pan) is None or not luhn_valid(pan):
                continue
            if not self.taken(key_of(top, pan)):
                if rows is None and self._uncovered:
                    self._uncovered.pop()
                return pan

    def plant_card(self, rng: random.Random, top: str, form: str, rows: Rows | None = None) -> str:
        pan = self.new_pan(rng, top, rows)
        self.cards[key_of(top, pan)] = (form, mask_digits(pan))
        return pan

    def draw_look(
        self, rng: random.Random, top: str, family: str | None = None
    ) -> tuple[Look, list[Key], list[str]]:
        """A look-alike whose card-shaped windows collide with nothing of its file."""
        if family is None:
            family = rng.choices(list(FAMILY_WEIGHTS), list(FAMILY_WEIGHTS.values()))[0]
        gen, kinds = GENERATORS[family]
        kind = rng.randrange(kinds)
        for _ in range(10_000):
            look = gen(rng, kind)
            windows = card_windows(look.value)
            if not windows:
                continue  # generate until a card-shaped window is there
            keys = [key_of(top, w) for w in windows]
            if any(self.taken(k) for k in keys) or len(set(keys)) != len(keys):
                continue
            return look, keys, windows
        raise RuntimeError(f"no {family} look-alike found")

    def register_look(self, look: Look, keys: list[Key], windows: list[str]) -> None:
        for key, digits in zip(keys, windows, strict=True):
            self.lookalikes.setdefault(key, (look.category, mask_digits(digits)))

    def plant_look(self, rng: random.Random, top: str, family: str | None = None) -> Look:
        look, keys, windows = self.draw_look(rng, top, family)
        self.register_look(look, keys, windows)
        self.planted[area(top)][look.category] += 1
        return look

    def account(self, top: str, text: str) -> None:
        """Map the card-shaped windows of written text that nothing planted accounts for:
        numbers of neighbouring fields read together (CSV cells, a card and the amount
        after it, parts of a UUID). They are no look-alikes of their own, but a scanner
        that reports one should see it named."""
        for line in text.splitlines():
            for digits in card_windows(line):
                k = key_of(top, digits)
                if k in self.cards:
                    self.written.add(k)
                elif not self.taken(k):
                    self.lookalikes[k] = (INCIDENTAL, mask_digits(digits))
                    self.incidental += 1

    def card_keys(self, prefix: str = "") -> set[Key]:
        return {k for k in self.cards if k[0].startswith(prefix)}


_TAGS = re.compile(r"<[^<>]*>")


class FileCtx:
    """What a builder of one top-level file plants with."""

    def __init__(self, rng: random.Random, truth: Truth, top: str) -> None:
        self.rng, self.truth, self.top = rng, truth, top

    def pan(self, form: str, rows: Rows | None = None) -> str:
        return self.truth.plant_card(self.rng, self.top, form, rows)

    def card(self, style: str, form: str | None = None) -> str:
        form = form or self.truth.next_form(self.rng, style)
        return card_snippet(self.rng, self.pan(form), form, style)

    def look(self, style: str, family: str | None = None) -> str:
        return render(self.truth.plant_look(self.rng, self.top, family), style)

    def look_value(self, family: str | None = None) -> Look:
        return self.truth.plant_look(self.rng, self.top, family)

    def written(self, text: str) -> str:
        """Text as it is written into the file (or a member of it), accounted for."""
        self.truth.account(self.top, text)
        return text

    def markup(self, text: str) -> str:
        """Markup as written, accounted for as it is and with its tags removed (numbers in
        neighbouring elements meet there)."""
        self.truth.account(self.top, _TAGS.sub("", text))
        return self.written(text)


# --------------------------------------------------------------------------- filler

_EPOCH_MS = 1_714_567_296_789


def ip(rng: random.Random) -> str:
    return rng.choice(
        (
            f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"203.0.113.{rng.randint(1, 254)}",
        )
    )


def amount(rng: random.Random) -> str:
    return f"{rng.randint(1, 2999)}.{rng.randint(0, 99):02d}"


def iso(rng: random.Random) -> str:
    return (
        f"2024-05-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
        f"{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"
    )


def epoch_ms(rng: random.Random) -> int:
    return _EPOCH_MS + rng.randint(0, 10**10)


def epoch_us(rng: random.Random) -> int:
    return epoch_ms(rng) * 1000 + rng.randint(0, 999)


def person(rng: random.Random) -> str:
    return rng.choice(
        (
            "Jane Doe",
            "John Smith",
            "Anna Müller",
            "Marco Rossi",
            "Lucía García",
            "An Nguyen",
            "Chidi Okafor",
            "Yuki Tanaka",
            "Sofia Silva",
        )
    )


def kv_filler(rng: random.Random) -> str:
    """An application log line without card-shaped numbers (timestamps start with 1)."""
    k = rng.randrange(4)
    if k == 0:
        return (
            f"{iso(rng)} INFO  [http-nio-8080-exec-{rng.randint(1, 40)}] c.e.OrderService - "
            f"order accepted order_id={rng.randint(10**6, 10**9)} amount={amount(rng)} "
            f"ts_ms={epoch_ms(rng)} client={ip(rng)}"
        )
    if k == 1:
        return (
            f"{iso(rng)} WARN  [scheduler-{rng.randint(1, 4)}] c.e.Retry - attempt "
            f"{rng.randint(1, 5)}/5 latency_ms={rng.randint(1, 9000)} t_us={epoch_us(rng)}"
        )
    if k == 2:
        return (
            f"{iso(rng)} DEBUG [worker-{rng.randint(1, 16)}] c.e.Cache - hit ratio="
            f"0.{rng.randint(10, 99)} size={rng.randint(1, 99999)} dhl_waybill="
            f"{rand_digits(rng, 10)}"
        )
    return log_line(rng, rng.randint(0, 10**6))


# --------------------------------------------------------------------------- text builders


def mixed(ctx: FileCtx, style: str) -> str:
    """A card and a look-alike in the same line shape (``card=... phone=...``)."""
    rng = ctx.rng
    if style == "json":
        form = rng.choice(("json_card_number", "json_pan"))
        parts = [card_snippet(rng, ctx.pan(form), form, "json"), ctx.look("json")]
        rng.shuffle(parts)
        return ", ".join(parts)
    form = rng.choice(("kv", "contiguous", "grouped_space", "grouped_dash"))
    parts = [card_snippet(rng, ctx.pan(form), form), ctx.look("kv")]
    rng.shuffle(parts)
    return " ".join(parts)


def line_card(ctx: FileCtx, form: str) -> str:
    """A whole line for the line-level forms."""
    rng = ctx.rng
    pan = ctx.pan(form)
    value = pan if rng.random() < 0.6 else grouped(pan, rng.choice((" ", "-")))
    if form == "line_start":
        return f"{value} {rng.choice(('declined by issuer', 'charged', 'AUTH OK', 'retry'))}"
    if form == "line_end":
        return f"{iso(rng)} INFO  c.e.Checkout - card on file {value}"
    ts = rng.choice((iso(rng), str(epoch_ms(rng)), f"[{iso(rng)}]"))
    return f"{ts} {value} {rng.choice(('declined', 'approved', 'AUTH OK'))}"


def log_text(ctx: FileCtx, lines: int, cards: int, looks: int, mixes: int) -> str:
    """Application log: filler with look-alikes, cards and mixed lines at random lines."""
    rng = ctx.rng
    out = [kv_filler(rng) for _ in range(lines)]
    free = rng.sample(range(lines), looks + mixes + cards)  # one planted thing per line

    def put(text: str, whole: bool = False) -> None:
        j = free.pop()
        out[j] = text if whole else f"{out[j]} {text}"

    for _ in range(looks):
        put(ctx.look("kv"))
    for _ in range(mixes):
        put(mixed(ctx, "kv"))
    for _ in range(cards):
        if rng.random() < 0.3:
            form = ctx.truth.next_form(rng, "line")
            put(line_card(ctx, form), whole=True)
        else:
            put(ctx.card("kv"))
    return ctx.written("\n".join(out) + "\n")


def access_text(ctx: FileCtx, lines: int, cards: int, looks: int) -> str:
    rng = ctx.rng

    def line(query: str) -> str:
        path = rng.choice(
            ("/checkout/confirm", "/api/v1/pay", "/track", "/account/update", "/api/v2/orders")
        )
        return (
            f"{ip(rng)} - - [01/May/2024:12:{rng.randint(10, 59)}:{rng.randint(10, 59)} "
            f'+0000] "GET {path}?{query} HTTP/1.1" {rng.choice((200, 302, 400))} '
            f'{rng.randint(200, 9999)} "-" "Mozilla/5.0" rt={rng.randint(1, 900)}ms'
        )

    out = [line(f"page={rng.randint(1, 9)}&ts={epoch_ms(rng)}") for _ in range(lines)]
    free = rng.sample(range(lines), looks + cards)  # one planted query per line
    for _ in range(looks):
        out[free.pop()] = line(f"{ctx.look('url')}&lang=de")
    for _ in range(cards):
        query = ctx.card("url")
        if rng.random() < 0.4:  # in the same query string as a look-alike
            query = f"{ctx.look('url')}&{query}"
        out[free.pop()] = line(query)
    return ctx.written("\n".join(out) + "\n")


TICKET_LINES = (
    "Customer asks when the parcel will arrive.",
    "Refund requested, see notes.",
    "Payment failed twice, customer wants to pay by phone.",
    "Address change before shipping.",
    "Duplicate charge reported.",
    "Kunde bittet um Rückruf.",
    "Invoice needed for the company account.",
)


def ticket_text(ctx: FileCtx, tickets: int, cards: int, looks: int) -> str:
    """Support tickets: free text with contacts, references and, now and then, a card."""
    rng = ctx.rng
    body: list[list[str]] = [
        [
            f"ticket #{rng.randint(10000, 99999)} opened {iso(rng)} by {person(rng)}:",
            rng.choice(TICKET_LINES),
        ]
        for _ in range(tickets)
    ]
    for _ in range(looks):
        rng.choice(body).append(ctx.look("text"))
    for _ in range(cards):
        rng.choice(body).append(ctx.card("text"))
    return ctx.written("\n".join("\n".join(t) + "\n" for t in body))


def jdump(obj: object) -> str:
    """JSON with raw numbers kept as written (``Raw``)."""
    if isinstance(obj, Raw):
        return obj.text
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{_json_str(k)}: {jdump(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ", ".join(jdump(v) for v in obj) + "]"
    if isinstance(obj, str):
        return _json_str(obj)
    return str(obj)


@dataclass(frozen=True, slots=True)
class Raw:
    text: str


def look_json_value(look: Look) -> object:
    raw = look.custom.get("json_raw")
    if raw == "RAW":
        return Raw(look.value)
    return Raw(raw) if raw else look.value


def json_records(ctx: FileCtx, records: int, cards: int, looks: int) -> list[dict[str, object]]:
    rng = ctx.rng
    recs: list[dict[str, object]] = []
    for i in range(records):
        recs.append(
            {
                "id": i + 1,
                "created_ms": epoch_ms(rng),
                "status": rng.choice(("paid", "shipped", "refunded")),
                "amount": Raw(amount(rng)),
                "currency": "EUR",
            }
        )
    for _ in range(looks):
        look = ctx.look_value()
        rec = rng.choice(recs)
        label = look.label
        while label in rec:  # never overwrite what was planted
            label += "_2"
        rec[label] = look_json_value(look)
    for rec in rng.sample(recs, cards):
        form = rng.choice(("json_card_number", "json_pan"))
        pan = ctx.pan(form)
        if form == "json_pan":
            rec["payment"] = {"pan": Raw(pan) if rng.random() < 0.3 else pan, "exp": "12/27"}
        else:
            rec["card_number"] = _g(rng, pan)
    for rec in recs:
        ctx.written(jdump(rec))
    return recs


def csv_text(
    ctx: FileCtx, columns: list[tuple[str, str]], rows: int, card_rows: int, sep: str = ","
) -> str:
    """CSV: ``columns`` are (name, kind) with kind "card", a look-alike family, or filler
    ("id", "ms", "amount", "name", "masked"). Card columns are empty or masked but on
    ``card_rows`` rows."""
    rng = ctx.rng
    card_at = set(rng.sample(range(rows), card_rows))
    lines = [sep.join(name for name, _ in columns)]
    for r in range(rows):
        cells = []
        for _name, kind in columns:
            if kind == "card":
                if r in card_at:
                    form = "csv_column"
                    pan = ctx.pan(form)
                    cells.append(pan if rng.random() < 0.7 else grouped(pan, " "))
                else:
                    p = make_pan(rng, COMMON_ROWS)
                    cells.append(rng.choice(("", f"{p[:6]}******{p[-4:]}", "")))
            elif kind in GENERATORS:
                cells.append(ctx.look_value(kind).value if rng.random() < 0.45 else "")
            elif kind == "id":
                cells.append(str(r + 1))
            elif kind == "ms":
                cells.append(str(epoch_ms(rng)))
            elif kind == "amount":
                a = amount(rng)
                cells.append(a.replace(".", ",") if sep == ";" else a)
            elif kind == "name":
                cells.append(person(rng))
            elif kind == "carrier":
                cells.append(rng.choice(("fedex", "ups", "usps", "dhl")))
            else:
                cells.append(kind)
        lines.append(sep.join(cells))
    return ctx.written("\n".join(lines) + "\n")


def xml_text(ctx: FileCtx, records: int, cards: int, looks: int) -> str:
    rng = ctx.rng
    recs = [
        [f"<Id>{i + 1}</Id>", f"<Created>{iso(rng)}</Created>", f"<Total>{amount(rng)}</Total>"]
        for i in range(records)
    ]
    for _ in range(looks):
        rng.choice(recs).append(ctx.look("xml"))
    for _ in range(cards):
        rng.choice(recs).append(f"<Payment>{ctx.card('xml')}<Expiry>2027-12</Expiry></Payment>")
    body = "\n".join("  <Invoice>\n    " + "\n    ".join(r) + "\n  </Invoice>" for r in recs)
    return ctx.markup(f'<?xml version="1.0" encoding="UTF-8"?>\n<Invoices>\n{body}\n</Invoices>\n')


def html_text(ctx: FileCtx, rows: int, cards: int, looks: int) -> str:
    rng = ctx.rng
    parts = [f"<tr><th>Order</th><td>{rng.randint(10**5, 10**8)}</td></tr>" for _ in range(rows)]
    for _ in range(looks):
        parts.insert(rng.randrange(len(parts) + 1), ctx.look("html"))
    for _ in range(cards):
        k = rng.randrange(4)
        if k == 0:
            pan = ctx.pan("html_input")
            html = f'<input type="text" name="cardnumber" value="{grouped(pan, " ")}">'
        elif k == 1:
            pan = ctx.pan("html_split_spans")
            spans = "".join(f'<span class="grp">{g}</span>' for g in grouped(pan, " ").split())
            html = f'<div class="card-number">{spans}</div>'
        elif k == 2:
            pan = ctx.pan("html_cell")
            html = f"<tr><th>Card</th><td>{_g(rng, pan)}</td></tr>"
        else:
            pan = ctx.pan("html_text")
            html = f"<p>Thanks! We charged your card {grouped(pan, ' ')} today.</p>"
        parts.insert(rng.randrange(len(parts) + 1), html)
    rows_html = "\n".join(parts)
    return ctx.markup(
        f"<!DOCTYPE html>\n<html><head><title>Account</title></head><body>\n<table>\n"
        f"{rows_html}\n</table>\n</body></html>\n"
    )


def sql_text(ctx: FileCtx, rows: int, cards: int) -> str:
    """A mysqldump-style dump: one extended INSERT per table, many tuples per line."""
    rng = ctx.rng
    card_at = set(rng.sample(range(rows), cards))
    tuples = []
    for r in range(rows):
        phone = ctx.look_value("phone").value
        card = "NULL"
        if r in card_at:
            pan = ctx.pan("sql_value")
            card = f"'{_g(rng, pan)}'"
        tuples.append(f"({r + 1},'{person(rng)}','{phone}',{card},{epoch_ms(rng)})")
    payouts = []
    for r in range(rows // 2):
        iban = ctx.look_value("iban").value
        track = ctx.look_value("tracking").value
        payouts.append(f"({r + 1},'{iban}','{track}',{amount(rng)})")
    return ctx.written(
        "-- MySQL dump 10.13\n/*!40101 SET NAMES utf8mb4 */;\n"
        "CREATE TABLE `customers` (`id` int, `name` varchar(80), `phone` varchar(32), "
        "`card_number` varchar(32), `created_ms` bigint);\n"
        f"INSERT INTO `customers` VALUES {','.join(tuples)};\n"
        "CREATE TABLE `payouts` (`id` int, `iban` varchar(42), `tracking` varchar(40), "
        "`amount` decimal(10,2));\n"
        f"INSERT INTO `payouts` VALUES {','.join(payouts)};\n"
    )


# --------------------------------------------------------------------------- containers


def xlsx_sheet(header: list[str], rows: list[list[object]]) -> bytes:
    """A minimal workbook: strings as inline strings, numbers as numeric cells."""

    def cell(ref: str, value: object) -> str:
        if isinstance(value, Raw):
            return f'<c r="{ref}"><v>{value.text}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'

    def row(i: int, values: list[object]) -> str:
        cells = "".join(cell(f"{chr(65 + j)}{i}", v) for j, v in enumerate(values))
        return f'<row r="{i}">{cells}</row>'

    body = row(1, list(header)) + "".join(row(i, r) for i, r in enumerate(rows, 2))
    xml = f'<?xml version="1.0"?><worksheet><sheetData>{body}</sheetData></worksheet>'
    return _zip({"[Content_Types].xml": _CT, "xl/worksheets/sheet1.xml": xml.encode()})


def xlsx_book(ctx: FileCtx, families: list[str], rows: int, cards: int) -> bytes:
    rng = ctx.rng
    card_at = set(rng.sample(range(rows), cards))
    header = ["id", *families, "card", "amount"]
    out: list[list[object]] = []
    for r in range(rows):
        values: list[object] = [Raw(str(r + 1))]
        for fam in families:
            look = ctx.look_value(fam)
            numeric = look.value.isdigit() and len(look.value) <= 15
            values.append(Raw(look.value) if numeric else look.value)
        if r in card_at:
            k = rng.randrange(3)
            if k == 0:
                values.append(grouped(ctx.pan("xlsx_text_cell"), " "))
            elif k == 1:
                values.append(ctx.pan("xlsx_text_cell"))
            else:  # a numeric cell: exact up to 15 digits
                pan = ctx.pan(
                    "xlsx_numeric_cell",
                    [
                        ("34", "34", (15,)),
                        ("37", "37", (15,)),
                        ("36", "36", (14,)),
                        ("4", "4", (13,)),
                    ],
                )
                values.append(Raw(pan))
        else:
            values.append("")
        values.append(Raw(amount(rng)))
        out.append(values)
        for v in values:
            ctx.written(v.text if isinstance(v, Raw) else str(v))
    return xlsx_sheet(header, out)


def docx_doc(ctx: FileCtx, paragraphs: int, cards: int, looks: int) -> bytes:
    rng = ctx.rng
    paras: list[list[str]] = [
        [
            rng.choice(
                (
                    "Dear customer,",
                    "Thank you for your order.",
                    "Kind regards, the billing team",
                    "Please find the details below.",
                )
            )
        ]
        for _ in range(paragraphs)
    ]
    for _ in range(looks):
        paras.insert(rng.randrange(len(paras) + 1), [ctx.look("text")])
    for _ in range(cards):
        pan = ctx.pan("docx_split_runs")
        g = grouped(pan, " ")
        cut = rng.randint(3, len(g) - 3)
        paras.insert(
            rng.randrange(len(paras) + 1), ["your card ", g[:cut], g[cut:], " was charged."]
        )
    for para in paras:
        ctx.written("".join(para))
    return docx(paras)


def pdf_doc(ctx: FileCtx, lines: int, cards: int, looks: int) -> bytes:
    rng = ctx.rng
    out = [
        rng.choice(
            (
                "Statement",
                "Item  Qty  Price",
                f"Total {amount(rng)} EUR",
                "Thank you for shopping with us",
            )
        )
        for _ in range(lines)
    ]
    for _ in range(looks):
        out.insert(rng.randrange(len(out) + 1), ctx.look("text"))
    for _ in range(cards):
        pan = ctx.pan("pdf_text")
        out.insert(rng.randrange(len(out) + 1), f"Card {grouped(pan, rng.choice((' ', '-')))}")
    ctx.written("\n".join(out))
    return pdf(out)


def email(
    ctx: FileCtx,
    subject: str,
    body: str,
    cte: str,
    html: bool = False,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    rng = ctx.rng
    msg = EmailMessage()
    msg["From"] = "support@shop.example"
    msg["To"] = f"customer{rng.randint(1, 999)}@mail.example"
    msg["Subject"] = subject
    msg["Date"] = "Wed, 01 May 2024 12:34:56 +0000"
    msg["Message-ID"] = f"<{rng.getrandbits(64):x}@shop.example>"
    if html:
        msg.set_content(body, cte=cte)
        html_body = (
            "<html><body>" + "".join(f"<p>{p}</p>" for p in body.splitlines()) + "</body></html>"
        )
        msg.add_alternative(html_body, subtype="html", cte=cte)
    else:
        msg.set_content(body, cte=cte)
    if attachment:
        name, data = attachment
        msg.add_attachment(data, maintype="text", subtype="csv", filename=name)
    return msg


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1714567296
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sqlite(path: Path, tables: dict[str, tuple[str, list[tuple[object, ...]]]]) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for name, (columns, rows) in tables.items():
            conn.execute(f"CREATE TABLE {name} ({columns})")
            marks = ",".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
    conn.close()


# --------------------------------------------------------------------------- the estate


def write_estate(root: Path, rng: random.Random, truth: Truth) -> list[str]:
    """Write the estate under ``root/estate``; returns the top-level files (relative)."""
    files: dict[str, bytes] = {}

    def ctx(name: str) -> FileCtx:
        return FileCtx(rng, truth, f"{ESTATE}/{name}")

    for i in range(1, 6):
        c = ctx(f"logs/app-0{i}.log")
        files[c.top] = log_text(c, 1500, cards=7, looks=40, mixes=3).encode()
    for i in range(1, 3):
        c = ctx(f"logs/access-0{i}.log")
        files[c.top] = access_text(c, 1500, cards=8, looks=40).encode()
    c = ctx("logs/payments.log")
    files[c.top] = log_text(c, 1200, cards=6, looks=35, mixes=4).encode()
    c = ctx("logs/support-tickets.txt")
    files[c.top] = ticket_text(c, 300, cards=10, looks=55).encode()
    c = ctx("logs/gateway-debug.log")
    lines = []
    for _ in range(500):
        inner = c.look("json") if rng.random() < 0.12 else f'"ts_ms": {epoch_ms(rng)}'
        lines.append(f"{iso(rng)} DEBUG gateway - upstream payload=" + _json_str("{" + inner + "}"))
    for _ in range(6):
        j = rng.randrange(len(lines))
        lines[j] = f"{iso(rng)} DEBUG gateway - upstream payload=" + _json_str(
            "{" + mixed(c, "json") + "}"
        )
    files[c.top] = c.written("\n".join(lines) + "\n").encode()

    c = ctx("exports/customers.csv")
    files[c.top] = csv_text(
        c,
        [
            ("id", "id"),
            ("name", "name"),
            ("phone", "phone"),
            ("card", "card"),
            ("created_ms", "ms"),
            ("amount", "amount"),
        ],
        rows=120,
        card_rows=14,
    ).encode()
    c = ctx("exports/orders.csv")
    files[c.top] = csv_text(
        c,
        [
            ("order_number", "numeric_id"),
            ("created_ms", "ms"),
            ("carrier", "carrier"),
            ("tracking_number", "tracking"),
            ("pan", "card"),
            ("amount", "amount"),
        ],
        rows=100,
        card_rows=12,
    ).encode()
    c = ctx("exports/payouts-eu.csv")
    files[c.top] = csv_text(
        c,
        [
            ("id", "id"),
            ("beneficiary", "name"),
            ("iban", "iban"),
            ("card_number", "card"),
            ("amount", "amount"),
        ],
        rows=100,
        card_rows=12,
        sep=";",
    ).encode()
    c = ctx("exports/contacts.csv")
    files[c.top] = csv_text(
        c,
        [("id", "id"), ("phone", "phone"), ("fax", "phone"), ("cc", "card"), ("msisdn", "phone")],
        rows=60,
        card_rows=10,
    ).encode()
    c = ctx("exports/ledger.csv")
    files[c.top] = csv_text(
        c,
        [
            ("date", "ms"),
            ("account", "bank_account"),
            ("ref", "glued_id"),
            ("amount", "amount"),
            ("card", "card"),
        ],
        rows=80,
        card_rows=12,
    ).encode()
    c = ctx("exports/leads.csv")
    files[c.top] = csv_text(
        c,
        [
            ("lead_id", "numeric_id"),
            ("name", "name"),
            ("mobile", "phone"),
            ("score", "version_decimal"),
            ("card", "card"),
        ],
        rows=50,
        card_rows=8,
    ).encode()

    for name, n_cards in (("orders", 10), ("customers", 8), ("shipments", 6), ("refunds", 6)):
        c = ctx(f"data/{name}.json")
        recs = json_records(c, 60, cards=n_cards, looks=n_cards * 5)
        files[c.top] = ("[\n  " + ",\n  ".join(jdump(r) for r in recs) + "\n]\n").encode()
    for name, n_cards in (("events", 10), ("webhooks", 8)):
        c = ctx(f"data/{name}.jsonl")
        recs = json_records(c, 400, cards=n_cards, looks=n_cards * 5)
        files[c.top] = ("\n".join(jdump(r) for r in recs) + "\n").encode()
    for name in ("invoices", "feed"):
        c = ctx(f"data/{name}.xml")
        files[c.top] = xml_text(c, 120, cards=8, looks=40).encode()
    for name in ("checkout", "account"):
        c = ctx(f"web/{name}.html")
        files[c.top] = html_text(c, 80, cards=6, looks=30).encode()
    c = ctx("db/dump.sql")
    files[c.top] = sql_text(c, 30, cards=10).encode()

    for i, (name, families) in enumerate(
        (
            ("export", ["phone", "tracking"]),
            ("payouts", ["iban", "bank_account"]),
            ("contacts", ["phone", "numeric_id"]),
        ),
        1,
    ):
        c = ctx(f"docs/{name}-{i}.xlsx")
        files[c.top] = xlsx_book(c, families, rows=20, cards=6)
    for i, name in enumerate(("letter", "contract", "notes"), 1):
        c = ctx(f"docs/{name}-{i}.docx")
        files[c.top] = docx_doc(c, 20, cards=4, looks=20)
    for i, name in enumerate(("receipt", "invoice", "statement"), 1):
        c = ctx(f"docs/{name}-{i}.pdf")
        files[c.top] = pdf_doc(c, 20, cards=4, looks=20)

    c = ctx("mail/order-1.eml")
    files[c.top] = email(c, "Your order", ticket_text(c, 4, cards=3, looks=15), "base64").as_bytes()
    c = ctx("mail/refund-2.eml")
    attach = csv_text(
        c,
        [("id", "id"), ("iban", "iban"), ("card", "card"), ("amount", "amount")],
        rows=20,
        card_rows=3,
    )
    files[c.top] = email(
        c,
        "Refund list",
        ticket_text(c, 3, cards=2, looks=10),
        "quoted-printable",
        attachment=("refunds.csv", attach.encode()),
    ).as_bytes()
    c = ctx("mail/ticket-3.eml")
    files[c.top] = email(
        c, "Ticket update", ticket_text(c, 5, cards=3, looks=15), "quoted-printable", html=True
    ).as_bytes()
    c = ctx("mail/support.mbox")
    box = b""
    for m in range(6):
        msg = email(
            c,
            f"Case {m}",
            ticket_text(c, 2, cards=1, looks=6),
            rng.choice(("base64", "quoted-printable", "8bit")),
        )
        box += b"From support@shop.example Wed May  1 12:34:56 2024\n" + msg.as_bytes() + b"\n"
    files[c.top] = box

    c = ctx("archives/export-1.zip")
    files[c.top] = _zip(
        {
            "export/customers.csv": csv_text(
                c, [("id", "id"), ("phone", "phone"), ("card", "card")], rows=60, card_rows=5
            ).encode(),
            "export/orders.json": jdump(json_records(c, 40, cards=4, looks=20)).encode(),
        }
    )
    c = ctx("archives/logs-2.zip")
    files[c.top] = _zip(
        {
            "var/log/app.log": log_text(c, 800, cards=5, looks=25, mixes=2).encode(),
            "var/log/access.log": access_text(c, 600, cards=4, looks=20).encode(),
        }
    )
    c = ctx("archives/docs-3.zip")
    files[c.top] = _zip(
        {
            "letters/letter.docx": docx_doc(c, 10, cards=3, looks=15),
            "notes.txt": ticket_text(c, 20, cards=3, looks=15).encode(),
        }
    )
    c = ctx("archives/backup.tar.gz")
    inner_zip = _zip(
        {
            "app/app.log": log_text(c, 600, cards=4, looks=20, mixes=2).encode(),
            "app/orders.jsonl": "\n".join(
                jdump(r) for r in json_records(c, 80, cards=3, looks=15)
            ).encode(),
        }
    )
    files[c.top] = gzip.compress(
        tar_bytes(
            {
                "backup/customers.csv": csv_text(
                    c,
                    [("id", "id"), ("phone", "phone"), ("pan", "card"), ("iban", "iban")],
                    rows=50,
                    card_rows=4,
                ).encode(),
                "backup/nested/export.zip": inner_zip,
            }
        ),
        mtime=0,
    )
    c = ctx("archives/logs.tar.gz")
    files[c.top] = gzip.compress(
        tar_bytes(
            {
                "var/log/app.log": log_text(c, 800, cards=4, looks=20, mixes=2).encode(),
                "var/log/tickets.txt": ticket_text(c, 30, cards=3, looks=15).encode(),
            }
        ),
        mtime=0,
    )
    c = ctx("logs/app-old-1.log.gz")
    files[c.top] = gzip.compress(log_text(c, 1000, cards=5, looks=25, mixes=2).encode(), mtime=0)
    c = ctx("logs/access-old-2.log.gz")
    files[c.top] = gzip.compress(access_text(c, 1000, cards=5, looks=25).encode(), mtime=0)

    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    for name in ("db/app.sqlite", "db/crm.db"):
        c = ctx(name)
        path = root / c.top
        path.parent.mkdir(parents=True, exist_ok=True)
        _sqlite(path, sqlite_tables(c))
        files[c.top] = b""
    return sorted(files)


def sqlite_tables(c: FileCtx) -> dict[str, tuple[str, list[tuple[object, ...]]]]:
    rng = c.rng
    customers: list[tuple[object, ...]] = []
    card_at = set(rng.sample(range(80), 8))
    for r in range(80):
        phone = c.look_value("phone").value
        msisdn = phone
        card: object = None
        if r in card_at:
            pan = c.pan("sqlite_cell")
            card = int(pan) if rng.random() < 0.3 else _g(rng, pan)
        digits = "".join(ch for ch in msisdn if ch.isdigit())
        customers.append((r + 1, person(rng), phone, int(digits), card, epoch_ms(rng)))
        c.written(f"{phone}\n{digits}\n{card}")
    shipments: list[tuple[object, ...]] = []
    for r in range(30):
        look = c.look_value("tracking")
        order = c.look_value("numeric_id").value
        shipments.append(
            (r + 1, look.value, int(order), rng.choice(("fedex", "ups", "usps", "dhl")))
        )
    events: list[tuple[object, ...]] = []
    for r in range(60):
        payload = jdump({"type": "charge.succeeded", "ts_ms": epoch_ms(rng)})
        if r % 10 == 0:
            payload = "{" + mixed(c, "json") + "}"
        elif r % 2 == 0:
            payload = "{" + c.look("json") + "}"
        events.append((r + 1, c.written(payload)))
    return {
        "customers": (
            "id INTEGER, name TEXT, phone TEXT, msisdn INTEGER, card_number, created_ms INTEGER",
            customers,
        ),
        "shipments": (
            "id INTEGER, tracking_number TEXT, order_number INTEGER, carrier TEXT",
            shipments,
        ),
        "events": ("id INTEGER, payload TEXT", events),
    }


# --------------------------------------------------------------------------- dense log


@dataclass
class DenseStats:
    bytes: int = 0
    lines: int = 0
    cards: int = 0
    lookalike_lines: int = 0
    seconds: float = 0.0


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# Each template: (style of its extra field, format). Fields: ts, rid, order, amount, ip,
# then three derived small numbers, the time strings, and the extra text.
_DENSE_TEMPLATES = (
    (
        "kv",
        "{iso},{ms3} INFO  [http-nio-8080-exec-{t}] c.e.OrderService - order created "
        "ts_ms={ts} request_id={rid} order={order} amount={amt} client_ip={ip}{extra}",
    ),
    (
        "json",
        '{{"ts_ms":{ts},"level":"info","svc":"orders","trace_id":"{rid}","order_no":'
        '{order},"amount":{amt},"ip":"{ip}"{extra}}}',
    ),
    (
        "url",
        '{ip} - - [{clf}] "GET /api/v2/orders/{order}?rid={rid}&amount={amt}{extra} '
        'HTTP/1.1" 200 {t}{ms3} "-" "okhttp/4.12.0" ts={ts}',
    ),
    (
        "kv",
        "{sys} pay-{t} payment[{pid}]: rid={rid} ts={ts} order_id={order} amt={amt} "
        "src={ip}{extra}",
    ),
)


_JOIN = {"kv": " ", "json": ",", "url": "&"}


def write_dense_log(
    path: Path, target_bytes: int, rng: random.Random, truth: Truth, top: str = DENSE
) -> DenseStats:
    """A log in which every line carries ordinary numbers: a millisecond timestamp, a 16-19
    digit request id of uniformly random digits, an order number, an amount and an IP; one
    line in eight also a phone or IBAN look-alike; about one in 20,000 a planted card."""
    started = time.perf_counter()
    est_lines = max(1000, target_bytes // 190)
    # Request ids: a pool (ids repeat across a request's lines, as in real logs).
    n_rid = max(10_000, min(250_000, est_lines // 4))
    prefix_lengths = {
        (f"{h:02d}", n)
        for h in range(100)
        for n in range(12, 20)
        if card_shaped_prefix(f"{h:02d}", n)
    }
    rids: list[str] = []
    rid_keys: list[Key | None] = []
    while len(rids) < n_rid:
        n = rng.randint(16, 19)
        rid = str(rng.randrange(10**n)).zfill(n)
        k: Key | None = None
        if (rid[:2], n) in prefix_lengths and card_shaped(rid):
            k = key_of(top, rid)
            if truth.taken(k):
                continue
            truth.reserved.add(k)
        rids.append(rid)
        rid_keys.append(k)
    # Phone and IBAN look-alikes, rendered once per style.
    pool: list[tuple[Look, list[Key], list[str]]] = []
    for family, count in (("phone", 3000), ("iban", 1500)):
        for _ in range(count):
            look, keys, windows = truth.draw_look(rng, top, family)
            truth.reserved.update(keys)
            pool.append((look, keys, windows))
    rendered = {
        style: [_JOIN[style] + render(lk, style) for lk, _, _ in pool]
        for style in ("kv", "json", "url")
    }
    orders = [str(rng.randint(10**7, 10**10 - 1)) for _ in range(20_000)]
    amounts = [amount(rng) for _ in range(5_000)]
    ips = [ip(rng) for _ in range(5_000)]
    forms = {
        "kv": (
            "kv",
            "grouped_space",
            "grouped_dash",
            "grouped_dot",
            "url_plus",
            "track1",
            "track2",
            "quoted",
            "free_text",
            "contiguous",
        ),
        "json": ("json_card_number", "json_pan"),
        "url": ("url_plus", "url_bracket", "url_pct20", "url_pct2d"),
    }

    stats = DenseStats()
    used_rids: set[int] = set()
    used_pool: Counter[int] = Counter()
    rid_lines = 0
    next_card = int(rng.expovariate(1 / 20_000))
    batch = 16_384
    seconds: dict[int, tuple[str, str, str]] = {}
    n_tmpl = len(_DENSE_TEMPLATES)
    with open(path, "wb", buffering=1 << 22) as out:
        i = 0
        while stats.bytes < target_bytes:
            rid_idx = rng.choices(range(n_rid), k=batch)
            used_rids.update(rid_idx)
            order_b = rng.choices(orders, k=batch)
            amt_b = rng.choices(amounts, k=batch)
            ip_b = rng.choices(ips, k=batch)
            tmpl_b = rng.choices(range(n_tmpl), k=batch)
            extra_b = rng.choices(range(len(pool)), k=batch)
            roll = [rng.random() for _ in range(batch)]
            lines = []
            for b in range(batch):
                n = i + b
                sec = n >> 7
                if sec not in seconds:
                    seconds.clear()
                    t = time.gmtime(_EPOCH_MS // 1000 + sec)
                    seconds[sec] = (
                        time.strftime("%Y-%m-%d %H:%M:%S", t),
                        time.strftime("%d/", t)
                        + _MONTHS[t.tm_mon - 1]
                        + time.strftime("/%Y:%H:%M:%S +0000", t),
                        f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} " + time.strftime("%H:%M:%S", t),
                    )
                isot, clf, sys_t = seconds[sec]
                ms = (n & 127) * 7
                style, fmt = _DENSE_TEMPLATES[tmpl_b[b]]
                extra = ""
                if n == next_card:
                    form = rng.choice(forms[style])
                    pan = truth.plant_card(rng, top, form)
                    extra = _JOIN[style] + card_snippet(rng, pan, form, style)
                    stats.cards += 1
                    next_card = n + 1 + int(rng.expovariate(1 / 20_000))
                elif roll[b] < 0.125:
                    p = extra_b[b]
                    extra = rendered[style][p]
                    used_pool[p] += 1
                    stats.lookalike_lines += 1
                r = rid_idx[b]
                if rid_keys[r] is not None:
                    rid_lines += 1
                lines.append(
                    fmt.format(
                        iso=isot,
                        ms3=f"{ms:03d}",
                        t=r % 40 + 1,
                        ts=_EPOCH_MS + sec * 1000 + ms,
                        rid=rids[r],
                        order=order_b[b],
                        amt=amt_b[b],
                        ip=ip_b[b],
                        extra=extra,
                        clf=clf,
                        sys=sys_t,
                        pid=2000 + r % 900,
                    )
                )
            data = ("\n".join(lines) + "\n").encode()
            out.write(data)
            stats.bytes += len(data)
            stats.lines += batch
            i += batch
    # Register what was written: card-shaped request ids and the pool's look-alikes.
    for r in used_rids:
        k = rid_keys[r]
        if k is not None:
            truth.lookalikes.setdefault(k, ("numeric_id/trace_id", mask_digits(rids[r])))
    truth.planted["dense_log"]["numeric_id/trace_id"] += rid_lines
    for p, uses in used_pool.items():
        look, keys, windows = pool[p]
        truth.register_look(look, keys, windows)
        truth.planted["dense_log"][look.category] += uses
    truth.reserved.clear()
    stats.seconds = time.perf_counter() - started
    return stats


def card_shaped_prefix(first2: str, length: int) -> bool:
    """Whether some number of ``length`` digits starting with ``first2`` has a brand."""
    for row in IIN_TABLE:
        if length not in row.lengths:
            continue
        low, high = (row.low + "00")[:2], (row.high + "99")[:2]
        if low <= first2 <= high:
            return True
    return False


# --------------------------------------------------------------------------- audit


def audit(root: Path, truth: Truth, names: Iterable[str]) -> Counter[str]:
    """Card-shaped windows in the plain text files that no planted card or look-alike
    accounts for (by key): they would show as "unlisted" false positives."""
    stray: Counter[str] = Counter()
    for name in names:
        if not name.endswith((".log", ".txt", ".csv", ".json", ".jsonl", ".xml", ".html", ".sql")):
            continue
        with open(root / name, encoding="utf-8", errors="replace") as f:
            for line in f:
                for digits in card_windows(line):
                    k = key_of(name, digits)
                    if k not in truth.cards and k not in truth.lookalikes:
                        stray[name] += 1
    return stray


def generate(root: Path, seed: int, dense_bytes: int) -> tuple[Truth, list[str], DenseStats, float]:
    """The whole corpus under ``root``: (truth, estate files, dense-log stats, estate seconds)."""
    rng = random.Random(seed)
    truth = Truth(rng)
    t0 = time.perf_counter()
    names = write_estate(root, rng, truth)
    estate_s = time.perf_counter() - t0
    lost = truth.card_keys(ESTATE + "/") - truth.written
    if lost:  # a builder planted a card and then wrote over it
        raise RuntimeError(f"{len(lost)} planted cards were not written: {sorted(lost)[:3]}")
    dense = root / DENSE
    dense.parent.mkdir(parents=True, exist_ok=True)
    stats = write_dense_log(dense, dense_bytes, random.Random(seed + 1), truth)
    return truth, names, stats, estate_s


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the discovery benchmark's corpus.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--dense-mib", type=int, default=200)
    parser.add_argument("--audit", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    truth, names, stats, estate_s = generate(args.out, args.seed, args.dense_mib << 20)
    print(
        f"estate: {len(names)} files, {len(truth.card_keys(ESTATE))} cards, "
        f"{sum(1 for k in truth.lookalikes if k[0].startswith(ESTATE))} look-alike keys, "
        f"{estate_s:.1f} s"
    )
    print(
        f"dense log: {stats.bytes / (1 << 20):.0f} MiB, {stats.lines} lines, {stats.cards} "
        f"cards, {stats.lookalike_lines} look-alike lines, {stats.seconds:.1f} s"
    )
    print(f"{'look-alikes planted':<28}{'estate':>9}{'dense log':>11}")
    cats = sorted(set(truth.planted["estate"]) | set(truth.planted["dense_log"]))
    for cat in cats:
        print(f"  {cat:<26}{truth.planted['estate'][cat]:>9}{truth.planted['dense_log'][cat]:>11}")
    print(f"incidental windows mapped: {truth.incidental}")
    if args.audit:
        stray = audit(args.out, truth, [DENSE])
        print(f"unaccounted card-shaped windows in the dense log: {sum(stray.values())}")


if __name__ == "__main__":
    main()
