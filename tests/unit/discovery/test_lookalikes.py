"""Look-alike rules (lookalikes.toml): each one drops what it names and keeps a card.

Every look-alike here is card-shaped (brand prefix and length, valid Luhn digit), asserted
with ``brand_for`` and ``luhn_valid``, so that a test cannot pass because the number was
never a candidate; each has the structure of what it stands for (IBANs with their mod 97
check digits, ABA routing numbers with theirs, E.164 phone numbers). Cards are published
test cards or generated Luhn-valid numbers.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from importlib import resources

import pytest

from cardshield.cards import brand_for, luhn_valid
from cardshield.discovery.columns import CsvHeader, SqlColumns
from cardshield.discovery.context import FileContext, ScanOptions
from cardshield.discovery.extractors.cells import scan_cell
from cardshield.discovery.findings import FileResult
from cardshield.discovery.lookalikes import (
    default_rules,
    label_words,
    lookalike,
    parse_rules,
    run_start,
)
from cardshield.discovery.markup import label_sheet_cells, strip_markup
from cardshield.discovery.matcher import scan_bytes
from cardshield.discovery.scanner import scan_bytes_named
from tests.unit.discovery.builders import luhn, zip_bytes

VISA = "4111111111111111"  # published test cards
AMEX = "378282246310005"
MASTERCARD = "5555555555554444"


def shaped(digits: str) -> str:
    """``digits`` after checking that they are what the matcher hands the rules."""
    assert brand_for(digits) is not None, digits
    assert luhn_valid(digits), digits
    return digits


# Look-alikes with their own structure, each card-shaped.
PHONE = shaped(luhn("491761234567"))  # +49 176 1234567: German mobile, 13 digits (Visa-shaped)
PHONE_AT = shaped(luhn("436641234567"))  # +43 664 1234567: Austrian mobile
FEDEX_GROUND = shaped(luhn("6129098765432"))  # a card-shaped window of a tracking number
ACCOUNT = shaped(luhn("501234567890"))  # a 12-digit account number (Maestro-shaped)
ORDER_ID = shaped(luhn("6011223344556677"[:15]))
SNOWFLAKE = shaped(luhn("65432109876543210"))
ROUTING = "021000021"  # a published ABA routing number


def iban_check(country: str, bban: str) -> str:
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{98 - number % 97:02d}"


def gb_iban() -> tuple[str, str]:
    """A GB IBAN whose 14-digit tail (sort code and account) is Diners-shaped: (IBAN, digits)."""
    digits = shaped(luhn("3612345678901"))
    bban = "NWBK" + digits
    iban = "GB" + iban_check("GB", bban) + bban
    moved = iban[4:] + iban[:4]
    assert int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    return iban, digits


def aba_valid(routing: str) -> bool:
    d = [int(c) for c in routing]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0


def rule_at(text: str, printed: str, column: str | None = None) -> str | None:
    """The rule that explains ``printed`` (the number as written) in ``text``, if any."""
    start = text.index(printed)
    return lookalike(text, start, start + len(printed), column=column)


def kept(text: str, printed: str, column: str | None = None) -> bool:
    return rule_at(text, printed, column) is None


# --------------------------------------------------------------------------- the rules file


def test_every_rule_has_a_reason_and_a_unique_name() -> None:
    text = resources.files("cardshield.discovery").joinpath("lookalikes.toml").read_text("utf-8")
    data = tomllib.loads(text)
    names = [raw["name"] for raw in data["rule"]]
    assert len(names) == len(set(names))
    assert all(raw.get("reason", "").strip() for raw in data["rule"])
    assert data["card"]["reason"].strip()
    assert [r.name for r in default_rules().rules] == names


def test_every_rule_is_tested_here() -> None:
    tested = {name for name, _, _, _ in DROPPED}
    assert tested == {r.name for r in default_rules().rules}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[[rule]]\nname = "x"\nkind = "label"\nwords = ["a"]\n', "needs a name, a reason"),
        ('[[rule]]\nname = "x"\nkind = "nope"\nreason = "r"\n', "needs a name, a reason"),
        ('[[rule]]\nkind = "glued"\nreason = "r"\n', "needs a name, a reason"),
        ('[[rule]]\nname = "x"\nkind = "label"\nreason = "r"\n', "a label rule needs words"),
        ('[[rule]]\nname = "x"\nkind = "prefix"\nreason = "r"\n', "needs a pattern"),
        ('[[rule]]\nname = "x"\nkind = "prefix"\nreason = "r"\npattern = "("\n', "bad pattern"),
        (
            '[[rule]]\nname = "x"\nkind = "glued"\nreason = "r"\n'
            '[[rule]]\nname = "x"\nkind = "decimal"\nreason = "r"\n',
            "used twice",
        ),
        ("[[rule]\n", "not valid TOML"),
    ],
)
def test_parse_rules_errors(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_rules(text)


def test_a_rule_set_without_a_kind_keeps_the_card_words() -> None:
    rules = default_rules().without_kind("glued")
    assert "glued" not in {r.kind for r in rules.rules}
    assert rules.card_words == default_rules().card_words
    assert rules.card_next == default_rules().card_next


def test_parse_rules_reads_words_lower_cased() -> None:
    rules = parse_rules(
        '[card]\nwords = ["Card"]\nnext = ["EXP"]\nreason = "r"\n'
        '[[rule]]\nname = "fax"\nkind = "label"\nfree_text = true\nwords = ["Fax"]\nreason = "r"\n'
    )
    assert rules.card_words == {"card"} and rules.card_next == {"exp"}
    assert rules.rules[0].words == {"fax"} and rules.rules[0].free_text
    assert lookalike(f"Fax {PHONE}", 4, 4 + len(PHONE), rules=rules) == "fax"
    assert lookalike(f"card Fax {PHONE}", 9, 9 + len(PHONE), rules=rules) is None


# --------------------------------------------------------------------------- each rule, both ways

IBAN, IBAN_DIGITS = gb_iban()
DECIMAL = shaped(luhn("62013058891969"))  # 6201305889196.91 once the point is in
DECIMAL_PRINTED = DECIMAL[:13] + "." + DECIMAL[13:]
SPANNED = shaped(luhn("5625171623368436"))  # masked card's last four, a tab, a timestamp
SPANNED_PRINTED = SPANNED[:4] + "\t" + SPANNED[4:]

# (rule, text with the look-alike, the look-alike as printed, column)
DROPPED: list[tuple[str, str, str, str | None]] = [
    ("iban", f"please transfer the refund to {IBAN}", IBAN_DIGITS, None),
    ("phone-e164", f"call back on +{PHONE}", PHONE, None),
    ("phone-e164", f"msisdn=%2B{PHONE}&lang=de", PHONE, None),
    ("decimal", f"ledger sum {DECIMAL_PRINTED}", DECIMAL_PRINTED, None),
    (
        "across-fields",
        f"7\tJohn Smith\t227048******{SPANNED_PRINTED}\t1163.21",
        SPANNED_PRINTED,
        "card",
    ),
    ("phone-uri", f'<a href="tel:{PHONE}">call</a>', PHONE, None),
    ("phone-label", f"phone={PHONE} amount=12.00", PHONE, None),
    ("phone-label", f"Mobile: {PHONE}", PHONE, None),
    ("phone-label", f'payload="{{\\"cell\\": \\"{PHONE}\\"}}"', PHONE, None),
    ("phone-label", f"<tr><th>mobile</th><td>{PHONE}</td></tr>", PHONE, None),
    ("phone-label", f"\x1e\t\x1e\tmobile\x1e\t\x1e\t{PHONE}\x1e\t", PHONE, None),
    ("phone-label", f"  <Fax>{PHONE}</Fax>", PHONE, None),
    ("phone-label", f"{PHONE}", PHONE, "contact_phone"),
    ("tracking-label", f"FedEx Ground 7712 {FEDEX_GROUND}", FEDEX_GROUND, None),
    ("tracking-label", f"<TrackingNumber>{FEDEX_GROUND}</TrackingNumber>", FEDEX_GROUND, None),
    ("bank-label", f"bban_de={ACCOUNT}", ACCOUNT, None),
    ("account-phrase", f"debited from account {ACCOUNT}", ACCOUNT, None),
    ("account-key", f'"account_no": "{ACCOUNT}"', ACCOUNT, None),
    ("account-key", f"<DebitAccount>{ACCOUNT}</DebitAccount>", ACCOUNT, None),
    ("id-key", f"x_request_id={ORDER_ID} status=200", ORDER_ID, None),
    ("id-key", f"user_id {SNOWFLAKE}", SNOWFLAKE, None),
    ("id-key", f"<MessageId>{SNOWFLAKE}</MessageId>", SNOWFLAKE, None),
    ("id-name", f"Order number {ORDER_ID}", ORDER_ID, None),
    ("id-name", f"snowflake {SNOWFLAKE}", SNOWFLAKE, None),
    ("routing-account", f"ACH debit, routing {ROUTING}, account {ACCOUNT}", ACCOUNT, None),
    ("routing-account", f"RTN: {ROUTING}; {ACCOUNT}", ACCOUNT, None),
    ("glued-id", f"see order_{ORDER_ID} for details", ORDER_ID, None),
    ("glued-id", f"retrying req{SNOWFLAKE}x now", SNOWFLAKE, None),
]


@pytest.mark.parametrize(("rule", "text", "printed", "column"), DROPPED)
def test_the_lookalike_is_dropped_by_its_rule(
    rule: str, text: str, printed: str, column: str | None
) -> None:
    shaped("".join(c for c in printed if c.isdigit()))
    assert rule_at(text, printed, column) == rule


# (rule, text with a real card in the context the rule reads, the card as printed, column)
KEPT: list[tuple[str, str, str, str | None]] = [
    ("iban", f"iban={IBAN} card={VISA}", VISA, None),
    ("phone-e164", f"phone=+{PHONE} card={VISA}", VISA, None),
    ("phone-e164", f"+{PHONE}\t\t{VISA}\t1717021071584", VISA, "card"),  # previous CSV cell
    ("decimal", f"amount=12.50 card={VISA}", VISA, None),
    ("across-fields", f"7\tJohn Smith\t{VISA}\t1163.21", VISA, "card"),
    ("phone-uri", f'<a href="tel:{PHONE}">call</a> card {VISA}', VISA, None),
    ("phone-label", f"card={VISA} phone={PHONE}", VISA, None),
    ("phone-label", f"phone={PHONE} card={VISA}", VISA, None),
    ("phone-label", f"{VISA}", VISA, "card_number"),
    ("phone-label", f"<tr><th>Card</th><td>{VISA}</td></tr>", VISA, None),
    ("tracking-label", f"carrier=fedex tracking=7712 card_number={VISA}", VISA, None),
    ("bank-label", f"bban={ACCOUNT} pan={AMEX}", AMEX, None),
    ("account-phrase", f"debited from card account {VISA}", VISA, None),
    (
        "account-key",
        f"<Payment><AccountNumber>{VISA}</AccountNumber><Expiry>2027-12</Expiry>",
        VISA,
        None,
    ),
    ("account-key", f"card_account={VISA}", VISA, None),
    ("account-key", f"account={VISA}&exp=12%2F27", VISA, None),
    ("id-key", f"request_id=42 card={VISA}", VISA, None),
    ("id-key", f"order {VISA} declined", VISA, None),  # a word of a sentence, not a key
    ("id-name", f"Order number 123, paid with card {VISA}", VISA, None),
    ("routing-account", f"routing {ROUTING} card {VISA}", VISA, None),
    ("routing-account", f"routing 021000022 account {VISA}", VISA, None),  # no ABA checksum
    ("glued-id", f"card{VISA} was charged", VISA, None),
    ("glued-id", f"customer read out {VISA} on the call", VISA, None),
]


@pytest.mark.parametrize(("rule", "text", "printed", "column"), KEPT)
def test_a_card_in_the_same_context_is_kept(
    rule: str, text: str, printed: str, column: str | None
) -> None:
    assert any(r.name == rule for r in default_rules().rules)
    assert kept(text, printed, column), rule_at(text, printed, column)


def test_structure_of_the_generated_lookalikes() -> None:
    assert aba_valid(ROUTING) and not aba_valid("021000022")
    assert IBAN.startswith("GB") and len(IBAN) == 22


# --------------------------------------------------------------------------- how labels are read


def test_label_words_split_keys_and_run_words_together() -> None:
    assert label_words("trackingNumber") >= {"tracking", "number", "trackingnumber"}
    assert label_words("card%5Bnumber%5D") >= {"card", "number", "cardnumber"}
    assert "fedex" in label_words("FedEx Ground")
    assert "ordernumber" in label_words("Order number")


def test_a_label_on_the_previous_line_does_not_count() -> None:
    text = f"size=25239 dhl_waybill=8503645989\n{VISA} retry\n"
    assert kept(text, VISA)
    assert run_start(text, text.index(VISA)) == text.index(VISA)


def test_the_run_starts_at_its_first_group_not_at_the_previous_field() -> None:
    text = f"IBAN=PL64+2118+{VISA}"
    assert run_start(text, text.index(VISA)) == text.index("64+")
    assert run_start(f"+{PHONE}\t{VISA}", len(PHONE) + 2) == len(PHONE) + 2
    assert run_start(f"{PHONE}, {VISA}", len(PHONE) + 2) == len(PHONE) + 2


def test_a_cut_number_reads_the_label_of_its_whole_run() -> None:
    text = f'"tracking_number": "7712 {FEDEX_GROUND} 2821"'
    assert rule_at(text, FEDEX_GROUND) == "tracking-label"


def test_only_keys_count_for_key_rules() -> None:
    assert rule_at(f"account {ACCOUNT}", ACCOUNT) is None  # a sentence's word
    assert rule_at(f"acct={ACCOUNT}", ACCOUNT) == "account-key"


def test_lookalike_is_fast_enough_on_a_long_line() -> None:
    import time

    line = "x" * 5000 + " order accepted order_id=123 amount=12.00 " + VISA + " client=10.0.0.1"
    start = line.index(VISA)
    t0 = time.perf_counter()
    for _ in range(2000):
        lookalike(line, start, start + 16)
    assert (time.perf_counter() - t0) / 2000 < 1e-3  # well under a millisecond per number


# --------------------------------------------------------------------------- through the matcher


def test_matcher_counts_what_each_rule_dropped() -> None:
    data = (
        f"phone={PHONE} card={VISA}\n"
        f"2024-05-01T12:00:00Z debited from account {ACCOUNT}\n"
        f"routing={ROUTING} account_number={ACCOUNT}\n"
    ).encode()
    dropped: Counter[str] = Counter()
    hits = scan_bytes(data, dropped=dropped)
    assert [h.pan.reveal() for h in hits] == [VISA]
    assert dropped == {"phone-label": 1, "account-phrase": 1, "account-key": 1}


def test_csv_with_phone_and_card_columns() -> None:
    data = (
        "id,name,phone,card,created_ms\n"
        f"1,Jane Doe,+{PHONE},{VISA},1717021071584\n"
        f"2,John Smith,{PHONE_AT},,1717021071585\n"
        f'3,"Doe, Jane",{PHONE},{MASTERCARD},1717021071586\n'
    ).encode()
    dropped: Counter[str] = Counter()
    hits = scan_bytes(data, dropped=dropped)
    assert [(h.line, h.pan.reveal()) for h in hits] == [(2, VISA), (4, MASTERCARD)]
    assert sum(dropped.values()) == 3


def test_xml_elements_label_their_numbers_in_both_passes() -> None:
    xml = (
        '<?xml version="1.0"?>\n<Invoices>\n  <Invoice>\n'
        f"    <Fax>{PHONE}</Fax>\n    <TraceId>{SNOWFLAKE}</TraceId>\n"
        f"    <Payment><AccountNumber>{VISA}</AccountNumber><Expiry>2027-12</Expiry></Payment>\n"
        f"    <Payment><CardNumber>{AMEX}</CardNumber></Payment>\n"
        "  </Invoice>\n</Invoices>\n"
    ).encode()
    result = scan_bytes_named("feed.xml", xml, ScanOptions())
    assert sorted((f.line, f.masked) for f in result.findings) == [
        (6, "411111******1111"),
        (7, "378282*****0005"),
    ]


def test_html_header_cells_label_the_value_cells() -> None:
    html = (
        "<html><body><table>\n"
        f"<tr><th>mobile</th><td>{PHONE}</td></tr>\n"
        f"<tr><th>request_id</th><td>{SNOWFLAKE}</td></tr>\n"
        f"<tr><th>Card</th><td>{VISA}</td></tr>\n"
        "</table></body></html>\n"
    ).encode()
    result = scan_bytes_named("account.html", html, ScanOptions())
    assert [(f.line, f.masked) for f in result.findings] == [(4, "411111******1111")]


def test_markup_keeps_data_element_tags_but_strips_html() -> None:
    assert strip_markup(f"<Fax>{PHONE}</Fax>") == f"<Fax>{PHONE}</Fax>"
    assert strip_markup("<span>4242</span><b> 4242</b>") == "4242 4242"
    assert strip_markup("<w:t>4242</w:t><w:t>4242</w:t>", "\n") == "42424242"


def test_worksheet_cells_start_with_their_header() -> None:
    sheet = (
        "<worksheet><sheetData>"
        '<row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>card</t></is></c>'
        '<c r="C1" t="s"><v>0</v></c></row>'
        f'<row r="2"><c r="A2"><v>{PHONE}</v></c><c r="B2" t="inlineStr"><is><t>{VISA}</t></is></c>'
        '<c r="C2"><v>12</v></c></row>'
        "</sheetData></worksheet>"
    )
    labelled = label_sheet_cells(sheet)
    assert f"phone: {PHONE}" in strip_markup(labelled, "\n")
    assert f"card: {VISA}" in strip_markup(labelled, "\n")
    assert "12" in strip_markup(labelled, "\n") and ": 12" not in strip_markup(labelled, "\n")
    xlsx = zip_bytes(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
            "xl/worksheets/sheet1.xml": sheet.encode(),
        }
    )
    result = scan_bytes_named("export.xlsx", xlsx, ScanOptions())
    assert [f.masked for f in result.findings] == ["411111******1111"]
    assert result.lookalikes == {"phone-label": 1}


def test_a_header_row_that_is_not_names_labels_nothing() -> None:
    sheet = (
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>4111 1111</t></is></c></row>'
        f'<row r="2"><c r="A2"><v>{PHONE}</v></c></row></sheetData>'
    )
    assert label_sheet_cells(sheet) == sheet


# --------------------------------------------------------------------------- CSV columns


def test_csv_header_and_columns_with_quoted_delimiters() -> None:
    data = b'id,"name, full",phone,card\n1,"Doe, Jane",4917612345678,4111111111111111\n'
    header = CsvHeader.sniff(data)
    assert header is not None and header.names == ("id", "name, full", "phone", "card")
    assert header.column_at(data, data.index(b"4917")) == "phone"
    assert header.column_at(data, data.index(b"4111")) == "card"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_header_with_other_delimiters(delimiter: str) -> None:
    rows = [["id", "phone", "card_number"], ["1", PHONE, VISA]]
    data = "\n".join(delimiter.join(r) for r in rows).encode() + b"\n"
    header = CsvHeader.sniff(data)
    assert header is not None and header.delimiter == delimiter.encode()
    assert header.column_at(data, data.index(PHONE.encode())) == "phone"
    assert header.column_at(data, data.index(VISA.encode())) == "card_number"


@pytest.mark.parametrize(
    "first_line",
    [b"1,2,3", b",,", b"name", b"4111111111111111;4917612345678", b"only one,"],
)
def test_a_first_line_without_names_is_no_header(first_line: bytes) -> None:
    assert CsvHeader.sniff(first_line + b"\n1,2,3\n") is None


def test_no_header_without_a_whole_first_line() -> None:
    assert CsvHeader.sniff(b"id,phone,card") is None


def test_a_row_that_started_in_a_previous_buffer_has_no_column() -> None:
    header = CsvHeader.sniff(b"id,phone,card\n")
    assert header is not None
    tail = f",{PHONE},{VISA}\n2,".encode()  # the row's start is in the previous buffer
    assert header.column_at(tail, tail.index(VISA.encode())) is None
    assert header.column_at(tail + b"x,y\n", len(tail)) == "phone"


def test_the_header_line_itself_has_no_column() -> None:
    data = b"id,phone,card\n"
    header = CsvHeader.sniff(data)
    assert header is not None and header.column_at(data, 4) is None


# --------------------------------------------------------------------------- SQL dumps


DUMP = (
    "-- MySQL dump 10.13\n"
    "CREATE TABLE `customers` (`id` int, `name` varchar(80), `phone` varchar(32), "
    "`card_number` varchar(32), `amount` decimal(10,2), PRIMARY KEY (`id`));\n"
    f"INSERT INTO `customers` VALUES (1,'Doe, Jane','{PHONE}','{VISA}',1.50),"
    f"(2,'O\\'Brien','{PHONE_AT}',NULL,2.00),(3,'x','y','{MASTERCARD}',3.00);\n"
    f"INSERT INTO payouts (id, account_number) VALUES (1, '{ACCOUNT}');\n"
    "COPY public.contacts (id, mobile, pan) FROM stdin;\n"
    f"1\t{PHONE}\t{AMEX}\n"
    "\\.\n"
)


def test_sql_dump_columns() -> None:
    data = DUMP.encode()
    header = CsvHeader.sniff(data)
    assert isinstance(header, SqlColumns)
    assert header.tables["customers"] == ("id", "name", "phone", "card_number", "amount")
    at = data.index
    assert header.column_at(data, at(PHONE.encode())) == "phone"
    assert header.column_at(data, at(VISA.encode())) == "card_number"
    assert header.column_at(data, at(PHONE_AT.encode())) == "phone"
    assert header.column_at(data, at(MASTERCARD.encode())) == "card_number"
    assert header.column_at(data, at(ACCOUNT.encode())) == "account_number"
    assert header.column_at(data, at(AMEX.encode())) == "pan"
    assert header.column_at(data, data.index(PHONE.encode(), at(b"COPY"))) == "mobile"


def test_sql_dump_scan_keeps_cards_and_drops_phones_and_accounts() -> None:
    dropped: Counter[str] = Counter()
    hits = scan_bytes(DUMP.encode(), dropped=dropped)
    assert sorted(h.pan.reveal() for h in hits) == sorted([VISA, MASTERCARD, AMEX])
    assert dropped == {"phone-label": 3, "account-key": 1}


# --------------------------------------------------------------------------- database cells


def _cell(column: str, value: object) -> FileResult:
    result = FileResult(path="db")
    scan_cell(FileContext(ScanOptions(), result, 100), "db!customers", 1, column, value)
    return result


def test_database_column_names_label_cells() -> None:
    phone = _cell("phone", PHONE)
    assert phone.findings == [] and phone.lookalikes == {"phone-label": 1}
    card = _cell("card_number", VISA)
    assert [f.masked for f in card.findings] == ["411111******1111"]
    assert card.findings[0].column == "card_number"
    assert _cell("msisdn", int(PHONE)).findings == []
    assert [f.masked for f in _cell("notes", f"phone {PHONE} card {VISA}").findings] == [
        "411111******1111"
    ]
    assert _cell("lookup", VISA).findings != []  # a column naming nothing keeps the card
