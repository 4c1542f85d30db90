"""The corpus of the scan benchmark: realistic logs with planted cards and look-alikes, and
a mix of documents and archives, with the truth (which card is in which top-level file).

Every planted number is generated (Luhn-valid, brand prefixes from the IIN table); the
look-alikes are the classic false-positive sources: millisecond timestamps, UUID fragments,
decimals, hex hashes, card-length windows in longer digit runs, IMEIs, Luhn-invalid
brand-shaped numbers, masked numbers, IBANs and phone numbers.
"""

from __future__ import annotations

import gzip
import io
import random
import sqlite3
import tarfile
import uuid
import zipfile
from email.message import EmailMessage
from pathlib import Path

from cardshield.cards import IIN_TABLE, luhn_check_digit

Key = tuple[str, int, str, str]  # (top-level file, length, first two, last four)

# --------------------------------------------------------------------------- numbers


def make_pan(rng: random.Random, brand_rows: list[tuple[str, str, tuple[int, ...]]]) -> str:
    low, high, lengths = rng.choice(brand_rows)
    prefix = str(rng.randint(int(low), int(high))).zfill(len(low))
    length = rng.choice(lengths)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + luhn_check_digit(body)


BRAND_ROWS = [(r.low, r.high, tuple(sorted(r.lengths))) for r in IIN_TABLE]
COMMON_ROWS = [  # the cards people actually hold, weighted by repetition
    ("4", "4", (16,)),
    ("4", "4", (16,)),
    ("4", "4", (16,)),
    ("51", "55", (16,)),
    ("51", "55", (16,)),
    ("2221", "2720", (16,)),
    ("34", "34", (15,)),
    ("37", "37", (15,)),
    ("6011", "6011", (16,)),
    ("65", "65", (16,)),
    ("3528", "3589", (16,)),
    ("36", "36", (14,)),
    ("62", "62", (16, 19)),
    ("4", "4", (13, 19)),
    ("56", "69", (12, 19)),
]


def grouped(pan: str, sep: str) -> str:
    n = len(pan)
    if n == 15:
        return sep.join((pan[:4], pan[4:10], pan[10:]))
    if n == 14:
        return sep.join((pan[:4], pan[4:10], pan[10:]))
    return sep.join(pan[i : i + 4] for i in range(0, n, 4))


def written(rng: random.Random, pan: str) -> str:
    """A card as it shows up in logs and dumps."""
    style = rng.randrange(9)
    if style == 0:
        return f'"card_number":"{pan}"'
    if style == 1:
        return f"pan={grouped(pan, ' ')}"
    if style == 2:
        return f"card {grouped(pan, '-')}"
    if style == 3:
        return f"q=checkout&cc={grouped(pan, '%20')}&amt=12"
    if style == 4:
        return f"track2=;{pan}=2612101000000000?"
    if style == 5:
        return f"%B{pan}^DOE/JANE^2612101000000000000?"
    if style == 6:
        return f"<cardNumber>{pan}</cardNumber>"
    if style == 7:
        return f"card: {grouped(pan, '.')}"
    return f"number {pan},"


def decoy(rng: random.Random) -> str:
    """Something that looks like a card to a careless scanner but is not one."""
    pan = make_pan(rng, COMMON_ROWS)
    style = rng.randrange(10)
    if style == 0:
        return f"ts_ms={rng.randint(1_600_000_000_000, 1_800_000_000_000)}"
    if style == 1:
        u = str(uuid.UUID(int=rng.getrandbits(128)))
        return f"trace={u[:24]}{make_pan(rng, [('50', '50', (12,))])}"
    if style == 2:
        return f"ratio=0.{pan}"
    if style == 3:
        return f"sha=a{pan}f{rng.getrandbits(64):016x}"
    if style == 4:
        return f"id={rng.randint(1, 9)}{pan}"  # a card-length window inside a longer run
    if style == 5:
        body = "35" + "".join(rng.choice("0123456789") for _ in range(12))
        return f"imei={body}{luhn_check_digit(body)}"
    if style == 6:
        bad = pan[:-1] + str((int(pan[-1]) + 1) % 10)
        return f"order={bad}"  # brand-shaped, Luhn-invalid
    if style == 7:
        return f"masked={pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]}"
    if style == 8:
        return f"iban=DE{rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} "
    amount = f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
    return f"amount={amount} phone=+1 415-555-{rng.randint(1000, 9999)}"


# --------------------------------------------------------------------------- logs


def log_line(rng: random.Random, i: int) -> str:
    k = rng.random()
    ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if k < 0.3:
        return (
            f"{ip} - - [01/May/2024:12:{rng.randint(10, 59)}:{rng.randint(10, 59)} +0000] "
            f'"GET /api/v1/orders/{rng.randint(1, 999999)}?page={rng.randint(1, 9)} HTTP/1.1" '
            f'{rng.choice((200, 200, 201, 304, 404, 500))} {rng.randint(100, 99999)} "-" '
            f'"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36" 0.0{rng.randint(10, 99)}'
        )
    if k < 0.6:
        return (
            f'{{"ts":"2024-05-01T12:34:56.{rng.randint(100, 999)}Z","level":"info",'
            f'"msg":"order created","order_id":{rng.randint(1, 10**7)},'
            f'"request_id":"{uuid.UUID(int=rng.getrandbits(128))}",'
            f'"latency_ms":{rng.randint(1, 900)},"ts_ms":{1714567296789 + i * 37}}}'
        )
    if k < 0.8:
        return (
            f"May  1 12:34:56 web-{rng.randint(1, 9)} sshd[{rng.randint(1000, 99999)}]: "
            f"Accepted publickey for deploy from {ip} port {rng.randint(1024, 65535)} ssh2: "
            f"RSA SHA256:{rng.getrandbits(128):032x}"
        )
    return (
        f"2024-05-01 12:34:56,{rng.randint(100, 999)} INFO  [http-nio-8080-exec-"
        f"{rng.randint(1, 20)}] c.e.PaymentService - charge ok amount={rng.randint(1, 999)}."
        f"{rng.randint(10, 99)} currency=EUR txn=TX{rng.randint(10**9, 10**10)}"
    )


class Truth:
    def __init__(self) -> None:
        self.keys: set[Key] = set()

    def plant(
        self, rng: random.Random, top: str, rows: list[tuple[str, str, tuple[int, ...]]]
    ) -> str:
        while True:
            pan = make_pan(rng, rows)
            key = (top, len(pan), pan[:2], pan[-4:])
            if key not in self.keys:
                self.keys.add(key)
                return pan


def write_logs(root: Path, total_bytes: int, rng: random.Random, truth: Truth) -> int:
    pool = [log_line(rng, i) for i in range(40_000)]
    logs = root / "logs"
    logs.mkdir()
    file_size = 8 << 20
    written_bytes = 0
    n = 0
    while written_bytes < total_bytes:
        name = f"logs/app-{n:04d}.log"
        lines = rng.choices(pool, k=file_size // 150)
        for _ in range(len(lines) // 400):  # decoys: one line in 400
            j = rng.randrange(len(lines))
            lines[j] = f"{lines[j]} {decoy(rng)}"
        for _ in range(rng.randint(1, 4)):  # planted cards: a handful per 8 MB
            j = rng.randrange(len(lines))
            lines[j] = f"{lines[j]} {written(rng, truth.plant(rng, name, COMMON_ROWS))}"
        data = ("\n".join(lines) + "\n").encode()
        (root / name).write_bytes(data)
        written_bytes += len(data)
        n += 1
    return written_bytes


# --------------------------------------------------------------------------- documents


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


_CT = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def docx(paragraphs: list[list[str]]) -> bytes:
    body = "".join(
        "<w:p>"
        + "".join(f'<w:r><w:t xml:space="preserve">{r}</w:t></w:r>' for r in runs)
        + "</w:p>"
        for runs in paragraphs
    )
    xml = (
        '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
        f'wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>'
    )
    return _zip({"[Content_Types].xml": _CT, "word/document.xml": xml.encode()})


def xlsx(values: list[str]) -> bytes:
    rows = "".join(
        f'<row r="{i}"><c r="A{i}"><v>{v}</v></c></row>' for i, v in enumerate(values, 1)
    )
    xml = f'<?xml version="1.0"?><worksheet><sheetData>{rows}</sheetData></worksheet>'
    return _zip({"[Content_Types].xml": _CT, "xl/worksheets/sheet1.xml": xml.encode()})


def pdf(lines: list[str]) -> bytes:
    ops = ["BT", "/F1 11 Tf", "13 TL", "50 750 Td"]
    ops += [f"({line}) Tj T*" for line in lines]
    ops.append("ET")
    stream = "\n".join(ops).encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    )
    return out.getvalue()


def write_documents(root: Path, count: int, rng: random.Random, truth: Truth) -> int:
    docs = root / "docs"
    docs.mkdir()
    total = 0
    for i in range(count):
        kind = i % 7
        if kind == 0:
            name = f"docs/letter-{i}.docx"
            pan = truth.plant(rng, name, COMMON_ROWS)
            g = grouped(pan, " ")
            cut = rng.randint(3, len(g) - 3)
            data = docx([["Dear customer,"], ["your card ", g[:cut], g[cut:], " was charged."]])
        elif kind == 1:
            name = f"docs/export-{i}.xlsx"
            amex = truth.plant(rng, name, [("34", "34", (15,)), ("37", "37", (15,))])
            visa = truth.plant(rng, name, [("4", "4", (16,))])
            data = xlsx([f"{amex[0]}.{amex[1:]}E+14", visa, str(rng.randint(1, 10**6))])
        elif kind == 2:
            name = f"docs/receipt-{i}.pdf"
            pan = truth.plant(rng, name, COMMON_ROWS)
            data = pdf(["Receipt", f"Card {grouped(pan, ' ')}", f"Total {rng.randint(1, 500)}.00"])
        elif kind == 3:
            name = f"docs/archive-{i}.zip"
            pan = truth.plant(rng, name, COMMON_ROWS)
            body = "\n".join(log_line(rng, j) for j in range(2000)) + f"\npaid {pan}\n"
            data = _zip({"old/app.log": body.encode()})
        elif kind == 4:
            name = f"docs/backup-{i}.tar.gz"
            pan = truth.plant(rng, name, COMMON_ROWS)
            inner = f"id,card\n1,{pan}\n".encode()
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tf:
                info = tarfile.TarInfo("dump/cards.csv")
                info.size = len(inner)
                tf.addfile(info, io.BytesIO(inner))
            data = gzip.compress(buf.getvalue())
        elif kind == 5:
            name = f"docs/mail-{i}.eml"
            pan = truth.plant(rng, name, COMMON_ROWS)
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "order"
            msg.set_content(f"Please charge {grouped(pan, '-')} today.", cte="base64")
            data = msg.as_bytes()
        else:
            name = f"docs/app-{i}.db"
            pan = truth.plant(rng, name, COMMON_ROWS)
            conn = sqlite3.connect(root / name)
            with conn:
                conn.execute("CREATE TABLE payments (id INTEGER, note TEXT, card TEXT)")
                conn.executemany(
                    "INSERT INTO payments VALUES (?, ?, ?)",
                    [(j, f"order {rng.randint(1, 10**6)}", None) for j in range(200)]
                    + [(201, "manual entry", pan)],
                )
            conn.close()
            total += (root / name).stat().st_size
            continue
        (root / name).write_bytes(data)
        total += len(data)
    return total
