"""PAN discovery benchmark: cardshield against ripgrep and panhunt on the same corpus.

Generates, in a temporary directory, realistic logs (access logs, JSON application logs,
syslog, Java logs) with sparse planted card numbers in many written forms and many
look-alikes that are not cards (millisecond timestamps, UUIDs, decimals, hex hashes,
IMEIs, Luhn-invalid numbers, masked numbers), plus a mix of documents and archives (docx,
xlsx, PDF, zip, tar.gz, e-mail, SQLite). Then measures, on the same files:

* cardshield (``python -m cardshield.discovery``, ``--jobs`` = cores): throughput on the
  plain logs, and recall/precision over the whole corpus;
* ripgrep with an equivalent brand-aware PAN regex (prefixes, lengths, groupings,
  separators; no Luhn): the I/O and regex floor, on all cores;
* panhunt from PyPI, installed into a throwaway virtual environment.

A finding counts as (top-level file, length, first two and last four digits); planted
numbers are distinct on that key within a file. Last line: one JSON object with the
figures and the ratios. Run: ``.venv/bin/python bench/scan_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
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


# --------------------------------------------------------------------------- tools

SEP = r"(?:[ .-]|%2[0DdEe])"
S = SEP + "?"
RG_REGEX = (
    r"(?:^|[^0-9A-Za-z])("
    rf"4[0-9]{{3}}(?:{S}[0-9]{{4}}){{3}}(?:{S}[0-9]{{3}})?|4[0-9]{{12}}"
    rf"|(?:5[1-5][0-9]{{2}}|222[1-9]|22[3-9][0-9]|2[3-6][0-9]{{2}}|27[01][0-9]|2720)(?:{S}[0-9]{{4}}){{3}}"
    rf"|3[47][0-9]{{2}}{S}[0-9]{{6}}{S}[0-9]{{5}}"
    rf"|(?:6011|64[4-9][0-9]|65[0-9]{{2}}|62[0-9]{{2}}|35(?:2[89]|[3-8][0-9]))(?:{S}[0-9]{{4}}){{3}}[0-9]{{0,3}}"
    rf"|3(?:0[0-5][0-9]|095|[689][0-9]{{2}}){S}[0-9]{{6}}{S}[0-9]{{4}}"
    r"|(?:50|5[6-9]|6[0-9])[0-9]{10,17}"
    r")(?:$|[^0-9A-Za-z])"
)


def key_from(top: str, masked_or_digits: str) -> Key:
    return (top, len(masked_or_digits), masked_or_digits[:2], masked_or_digits[-4:])


def run_cardshield(target: Path, root: Path, jobs: int, out: Path) -> tuple[float, set[Key]]:
    cmd = [sys.executable, "-m", "cardshield.discovery", str(target), "--format", "json",
           "--jobs", str(jobs), "--no-progress", "-o", str(out)]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"cardshield failed: {proc.stderr.decode()[-500:]}")
    keys = set()
    for f in json.loads(out.read_text())["findings"]:
        top = os.path.relpath(f["path"].split("!", 1)[0], root)
        keys.add(key_from(top, f["masked"]))
    return elapsed, keys


def run_ripgrep(target: Path, root: Path, jobs: int) -> tuple[float, set[Key]]:
    cmd = ["rg", "--no-heading", "-H", "-o", "-z", "-j", str(jobs), "-e", RG_REGEX, str(target)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"ripgrep failed: {proc.stderr.decode()[-500:]}")
    keys = set()
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        path, _, match = line.partition(":")
        digits = re.sub(r"[^0-9]", "", re.sub(r"%2[0DdEe]", "", match))
        keys.add(key_from(os.path.relpath(path, root), digits))
    return elapsed, keys


def install_panhunt(workdir: Path) -> Path | None:
    venv = workdir / "panhunt-venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "panhunt"],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"panhunt could not be installed: {exc}", file=sys.stderr)
        return None
    return venv / "bin" / "panhunt"


def run_panhunt(exe: Path, target: Path, root: Path, jobs: int, workdir: Path,
                tops: list[str]) -> tuple[float, set[Key]]:  # fmt: skip
    out = workdir / f"panhunt-{time.monotonic_ns()}"
    out.mkdir()
    cmd = [str(exe), str(target), "-j", str(out), "-o", str(out), "-q", "-w", str(jobs)]
    started = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=False, cwd=out, timeout=3600)
    elapsed = time.perf_counter() - started
    reports = sorted(out.glob("*.json"))
    if not reports:
        raise RuntimeError("panhunt wrote no JSON report")
    keys = set()
    by_length = sorted(tops, key=len, reverse=True)
    for path, entries in json.loads(reports[-1].read_text())["pans_found_results"].items():
        rel = os.path.relpath(path, root)
        top = next((t for t in by_length if rel == t or rel.startswith(t + "/")), rel)
        for entry in entries:
            keys.add(key_from(top, entry.split(":", 1)[-1]))
    return elapsed, keys


def score(found: set[Key], truth: set[Key]) -> tuple[float, float]:
    tp = len(found & truth)
    recall = tp / len(truth) if truth else 0.0
    precision = tp / len(found) if found else 0.0
    return round(recall, 4), round(precision, 4)


def best_of(runs: int, fn: Callable[[], tuple[float, set[Key]]]) -> tuple[float, set[Key]]:
    results = [fn() for _ in range(runs)]
    return min(r[0] for r in results), results[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small corpus (about 40 MB)")
    parser.add_argument("--log-mb", type=int, default=None, help="MB of logs (default 512)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--no-panhunt", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the corpus directory")
    args = parser.parse_args()
    log_mb = args.log_mb or (40 if args.quick else 512)
    docs = 70 if args.quick else 350
    if shutil.which("rg") is None:
        sys.exit("ripgrep (rg) is required: apt-get install ripgrep")

    workdir = Path(tempfile.mkdtemp(prefix="cardshield-scan-bench-"))
    root = workdir / "corpus"
    root.mkdir()
    try:
        rng = random.Random(20240501)
        truth = Truth()
        t0 = time.perf_counter()
        log_bytes = write_logs(root, log_mb << 20, rng, truth)
        doc_bytes = write_documents(root, docs, rng, truth)
        gen_s = time.perf_counter() - t0
        tops = sorted(
            {k[0] for k in truth.keys}
            | {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        )
        log_truth = {k for k in truth.keys if k[0].startswith("logs/")}
        print(f"corpus: {log_bytes / 1e6:.0f} MB of logs, {docs} documents "
              f"({doc_bytes / 1e6:.1f} MB), {len(truth.keys)} planted cards, "
              f"generated in {gen_s:.0f} s, {args.jobs} cores")  # fmt: skip

        logs = root / "logs"
        # Warm the page cache so that every tool reads from memory.
        for p in logs.iterdir():
            p.read_bytes()
        out = workdir / "cardshield.json"
        cs_logs_s, cs_log_keys = best_of(3, lambda: run_cardshield(logs, root, args.jobs, out))
        rg_logs_s, rg_log_keys = best_of(3, lambda: run_ripgrep(logs, root, args.jobs))
        _, cs_keys = run_cardshield(root, root, args.jobs, out)
        _, rg_keys = run_ripgrep(root, root, args.jobs)

        ph_logs_s: float | None = None
        ph_keys: set[Key] | None = None
        ph_log_keys: set[Key] | None = None
        if not args.no_panhunt:
            exe = install_panhunt(workdir)
            if exe is not None:
                ph_logs_s, ph_log_keys = run_panhunt(exe, logs, root, args.jobs, workdir, tops)
                _, ph_keys = run_panhunt(exe, root, root, args.jobs, workdir, tops)

        mb = log_bytes / 1e6
        cs_mbs = round(mb / cs_logs_s, 1)
        rg_mbs = round(mb / rg_logs_s, 1)
        ph_mbs = round(mb / ph_logs_s, 1) if ph_logs_s else None
        cs_r, cs_p = score(cs_keys, truth.keys)
        rg_r, rg_p = score(rg_keys, truth.keys)
        cs_lr, cs_lp = score(cs_log_keys, log_truth)
        rg_lr, rg_lp = score(rg_log_keys, log_truth)
        ph_r = ph_p = ph_lr = ph_lp = None
        if ph_keys is not None and ph_log_keys is not None:
            ph_r, ph_p = score(ph_keys, truth.keys)
            ph_lr, ph_lp = score(ph_log_keys, log_truth)

        rows = [
            ("cardshield", cs_mbs, cs_lr, cs_lp, cs_r, cs_p),
            ("ripgrep (regex, no Luhn)", rg_mbs, rg_lr, rg_lp, rg_r, rg_p),
            ("panhunt", ph_mbs, ph_lr, ph_lp, ph_r, ph_p),
        ]
        print(f"\n{'tool':<26}{'logs MB/s':>10}{'log recall':>12}{'log prec.':>11}"
              f"{'all recall':>12}{'all prec.':>11}")  # fmt: skip
        for name, *vals in rows:
            cells = "".join(
                f"{('-' if v is None else v):>{w}}"
                for v, w in zip(vals, (10, 12, 11, 12, 11), strict=True)
            )
            print(f"{name:<26}{cells}")
        result = {
            "bench": "scan",
            "log_mb": round(mb, 1),
            "documents": docs,
            "planted": len(truth.keys),
            "jobs": args.jobs,
            "cardshield_mb_s": cs_mbs,
            "ripgrep_mb_s": rg_mbs,
            "panhunt_mb_s": ph_mbs,
            "ratio_vs_ripgrep": round(cs_mbs / rg_mbs, 3),
            "cardshield_recall": cs_r,
            "cardshield_precision": cs_p,
            "ripgrep_recall": rg_r,
            "ripgrep_precision": rg_p,
            "panhunt_recall": ph_r,
            "panhunt_precision": ph_p,
            "cardshield_log_recall": cs_lr,
            "cardshield_log_precision": cs_lp,
            "panhunt_log_recall": ph_lr,
            "panhunt_log_precision": ph_lp,
        }
        print(json.dumps(result))
    finally:
        if args.keep:
            print(f"corpus kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
