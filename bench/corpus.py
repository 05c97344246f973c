"""Generate a reproducible corpus of product documents: PDFs, DOCX, text, e-mails and scans.

``generate(root, n, seed, scans_share)`` writes ``root/electronic/<kind>/...``
and ``root/scans/...`` (so their ingest can be timed apart), plus
``root/products.toml`` and ``root/manifest.json``. Document ``i`` depends only
on (seed, n, i): its bytes and its mtime are the same on every run and every
machine with the same library versions, whichever worker process writes it.
"""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import random
import textwrap
import zipfile
from datetime import date, datetime, time, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path

from bench import vocab
from bench.vocab import Context

FORMAT_VERSION = 1
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SCAN_SIZE = (1748, 2480)          # A5 at 300 dpi
# Electronic kinds and their shares of the electronic documents.
KINDS = {"spec": 0.18, "review": 0.10, "quote": 0.07, "request": 0.12, "report": 0.08,
         "notes": 0.12, "minutes": 0.10, "mail": 0.23}
LINE_CHARS = 92
LINES_PER_PAGE = 44


# -- plan and driver ----------------------------------------------------------

def plan(n: int, seed: int, scans_share: float) -> list[str]:
    """Return the kind of each document index: electronic kinds first, then the scans."""
    scans = 0 if scans_share <= 0 or n == 0 else max(1, round(n * scans_share))
    rng = random.Random(f"{seed}-plan-{n}")
    kinds = rng.choices(list(KINDS), weights=list(KINDS.values()), k=n - scans)
    return kinds + ["scan"] * scans


def generate(root: Path, n: int, seed: int = 1, scans_share: float = 0.05, workers: int | None = None) -> dict:
    """Write the corpus (reusing one already there with the same parameters); return its manifest."""
    root = Path(root)
    params = {"format": FORMAT_VERSION, "n": n, "seed": seed, "scans_share": scans_share}
    manifest_path = root / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("params") == params:
            return manifest
    root.mkdir(parents=True, exist_ok=True)
    (root / "products.toml").write_text(vocab.products_toml(), encoding="utf-8")
    kinds = plan(n, seed, scans_share)
    jobs = [(str(root), n, seed, i, kind) for i, kind in enumerate(kinds)]
    workers = workers or os.cpu_count() or 1
    if workers > 1 and n > 20:
        _preload()
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            rows = pool.map(_write_one, jobs, chunksize=8)
    else:
        rows = [_write_one(job) for job in jobs]
    manifest = _manifest(params, rows)
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def _preload() -> None:
    # Import the writers' libraries once, before the fork, instead of once per worker.
    import docx  # noqa: F401
    import fpdf  # noqa: F401
    from PIL import Image, ImageDraw  # noqa: F401


def _manifest(params: dict, rows: list[dict]) -> dict:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(f"{row['path']}\0{row['sha256']}\0{row['mtime']}\n".encode())
    electronic = [r for r in rows if r["kind"] != "scan"]
    scans = [r for r in rows if r["kind"] == "scan"]
    return {
        "params": params, "digest": digest.hexdigest(),
        "documents": len(rows), "electronic": len(electronic), "scans": len(scans),
        "scan_pages": sum(r["pages"] for r in scans),
        "attachments": sum(1 for r in rows if r["kind"] == "mail"),
        "electronic_bytes": sum(r["size"] for r in electronic), "scan_bytes": sum(r["size"] for r in scans),
        "by_kind": {k: sum(1 for r in rows if r["kind"] == k) for k in [*KINDS, "scan"]},
        "files": rows,
    }


def _write_one(job: tuple) -> dict:
    root, n, seed, index, kind = job
    rng = random.Random(f"{seed}-{n}-{index}")
    ctx = vocab.context(rng, index, vocab.universe(n))
    name, data, pages = WRITERS[kind](rng, ctx)
    folder = "scans" if kind == "scan" else f"electronic/{kind}"
    path = Path(root) / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    mtime = int(datetime.combine(ctx.day, time(9, 30), tzinfo=timezone.utc).timestamp())
    os.utime(path, (mtime, mtime))
    return {"path": f"{folder}/{name}", "kind": kind, "size": len(data), "pages": pages, "mtime": mtime,
            "sha256": hashlib.sha256(data).hexdigest(), "token": ctx.token}


# -- PDF ----------------------------------------------------------------------

def pdf_bytes(title: str, author: str, day: date, pages: list[list[str]]) -> bytes:
    """Lay out pages of pre-wrapped lines with a core font (fast, no text shaping)."""
    import fpdf
    pdf = fpdf.FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creation_date(datetime.combine(day, time(9, 0), tzinfo=timezone.utc))
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        y = 22.0
        if number == 1:
            pdf.set_font("helvetica", "B", 14)
            pdf.text(18, y, title)
            y += 10
        pdf.set_font("helvetica", size=10)
        for line in lines:
            pdf.text(18, y, line)
            y += 5.6
        pdf.set_font("helvetica", size=8)
        pdf.text(18, 287, f"{title} - page {number} of {len(pages)}")
    return bytes(pdf.output())


def _lines(rng: random.Random, ctx: Context, count: int) -> list[str]:
    lines: list[str] = []
    while len(lines) < count:
        lines += textwrap.wrap(vocab.paragraph(rng, ctx, rng.randrange(3, 7)), LINE_CHARS) + [""]
    return lines[:count]


def _pdf_pages(rng: random.Random, ctx: Context, first: list[str], pages: int) -> list[list[str]]:
    out = []
    for number in range(pages):
        head = first if number == 0 else []
        body = _lines(rng, ctx, LINES_PER_PAGE - len(head) - 2)
        out.append(head + body + ([vocab.closing(ctx)] if number == pages - 1 else []))
    return out


def write_spec(rng: random.Random, ctx: Context) -> tuple[str, bytes, int]:
    """A controlled specification, 2-5 pages, with its number and revision."""
    code, name, _ = ctx.product
    title = f"{ctx.docnum} Rev {ctx.revision} {ctx.part.title()} specification for {code}"
    first = [f"Document: {ctx.docnum} Rev {ctx.revision}", f"Product: {code} {name}",
             f"Implements {ctx.cr}; cites {ctx.cited}.", ""]
    pages = rng.randrange(2, 6)
    data = pdf_bytes(title, ctx.person, ctx.day, _pdf_pages(rng, ctx, first, pages))
    return f"{ctx.docnum}_Rev{ctx.revision}_{ctx.index:06d}.pdf", data, pages


def write_review(rng: random.Random, ctx: Context) -> tuple[str, bytes, int]:
    """A review memo of a change request, 2-3 pages."""
    title = f"Review memo {ctx.cr}"
    first = [f"Design review of {ctx.cr} for {ctx.product[0]} ({ctx.product[1]})",
             f"Reviewer: {ctx.person}   Date: {ctx.day.isoformat()}", ""]
    pages = rng.randrange(2, 4)
    data = pdf_bytes(title, ctx.person, ctx.day, _pdf_pages(rng, ctx, first, pages))
    return f"review_{ctx.cr}_{ctx.index:06d}.pdf", data, pages


def write_quote(rng: random.Random, ctx: Context) -> tuple[str, bytes, int]:
    """A supplier quote, 2 pages."""
    number = rng.randrange(1000, 9999)
    title = f"Supplier quote {ctx.supplier} Q-{number}"
    first = [f"Quotation Q-{number} for the {ctx.part} of {ctx.product[0]}",
             f"Valid until {ctx.day.isoformat()}; lead time {rng.randrange(2, 20)} weeks.", ""]
    data = pdf_bytes(title, ctx.supplier, ctx.day, _pdf_pages(rng, ctx, first, 2))
    return f"quote_{ctx.supplier.replace(' ', '_')}_{number}_{ctx.index:06d}.pdf", data, 2


# -- DOCX ---------------------------------------------------------------------

def docx_bytes(title: str, ctx: Context, paragraphs: list[str], table: list[tuple[str, ...]]) -> bytes:
    """Write a DOCX with a heading, paragraphs and one table; zip entries get fixed timestamps."""
    import docx
    document = docx.Document()
    props = document.core_properties
    props.title, props.author, props.last_modified_by, props.revision = title, ctx.person, ctx.person, 1
    props.created = props.modified = datetime.combine(ctx.day, time(9, 0))
    document.add_heading(title, level=1)
    for text in paragraphs[:2]:
        document.add_paragraph(text)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for row, values in zip(grid.rows, table):
        for cell, value in zip(row.cells, values):
            cell.text = value
    for text in paragraphs[2:]:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(buffer.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


def write_request(rng: random.Random, ctx: Context) -> tuple[str, bytes, int]:
    """A change request form with a field table."""
    code, name, _ = ctx.product
    title = f"Change request {ctx.cr}"
    table = [("Field", "Value"), ("Change request", ctx.cr), ("Product", f"{code} {name}"),
             ("Requested by", ctx.person), ("Date", ctx.day.isoformat()), ("Part", ctx.part),
             ("Affected documents", f"{ctx.docnum} Rev {ctx.revision}, {ctx.cited}"),
             ("Decision", rng.choice(("", "", *vocab.DECISIONS)))]
    paragraphs = [vocab.paragraph(rng, ctx, rng.randrange(3, 6)) for _ in range(rng.randrange(3, 6))]
    data = docx_bytes(title, ctx, paragraphs + [vocab.closing(ctx)], table)
    return f"{ctx.cr}_request_{ctx.index:06d}.docx", data, 1


def write_report(rng: random.Random, ctx: Context) -> tuple[str, bytes, int]:
    """A test report with a table of measurements."""
    title = f"{ctx.docnum} Rev {ctx.revision} Test report {ctx.part} {ctx.product[0]}"
    table = [("Sample", "Test", "Result", "Unit")] + [
        (f"S{k}", rng.choice(vocab.PHRASES), str(rng.randrange(1, 900)), rng.choice(vocab.UNITS))
        for k in range(1, rng.randrange(4, 12))]
    paragraphs = [vocab.paragraph(rng, ctx, rng.randrange(3, 6)) for _ in range(rng.randrange(2, 5))]
    data = docx_bytes(title, ctx, paragraphs + [vocab.closing(ctx)], table)
    return f"{ctx.docnum}_Rev{ctx.revision}_test_report_{ctx.index:06d}.docx", data, 1


# -- text and Markdown --------------------------------------------------------

def write_notes(rng: random.Random, ctx: Context) -> tuple[str, bytes, int]:
    """Plain-text meeting notes."""
    lines = [f"Meeting notes {ctx.day.isoformat()} - {ctx.product[1]}", "",
             f"Present: {ctx.person}, {ctx.other}", ""]
    for _ in range(rng.randrange(3, 8)):
        lines += textwrap.wrap(vocab.paragraph(rng, ctx, rng.randrange(2, 5)), 78) + [""]
    lines.append(vocab.closing(ctx))
    return f"notes {ctx.day.isoformat()} {ctx.index:06d}.txt", ("\n".join(lines) + "\n").encode(), 1


def write_minutes(rng: random.Random, ctx: Context) -> tuple[str, bytes, int]:
    """Markdown minutes of the change control board, with decisions."""
    lines = [f"# CCB minutes {ctx.day.isoformat()}", "", f"Chair: {ctx.person}  ", f"Minutes: {ctx.other}", "",
             "## Decisions", ""]
    crs = {ctx.cr} | set(rng.sample(vocab.universe(ctx.n).crs, 2))
    for cr in sorted(crs):
        lines.append(f"- {cr} ({ctx.product[0]}): {rng.choice(vocab.DECISIONS)} on {ctx.day.isoformat()}")
    lines += ["", "## Discussion", ""]
    for _ in range(rng.randrange(2, 6)):
        lines += [vocab.paragraph(rng, ctx, rng.randrange(2, 5)), ""]
    lines.append(vocab.closing(ctx))
    return f"{ctx.day.isoformat()}_CCB_minutes_{ctx.index:06d}.md", ("\n".join(lines) + "\n").encode(), 1


# -- e-mail -------------------------------------------------------------------

def write_mail(rng: random.Random, ctx: Context) -> tuple[str, bytes, int]:
    """An e-mail about a change request with a PDF or DOCX attachment."""
    msg = EmailMessage()
    sender, to = (ctx.person, ctx.other)
    msg["From"] = f"{sender} <{_address(sender)}>"
    msg["To"] = f"{to} <{_address(to)}>"
    subject = rng.choice((f"Re: {ctx.cr} review", f"{ctx.product[0]} {ctx.part} update",
                          f"Quote for {ctx.product[1]} {ctx.part}", f"Fwd: {ctx.docnum} Rev {ctx.revision}"))
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.combine(ctx.day, time(10, rng.randrange(60)), tzinfo=timezone.utc))
    msg["Message-ID"] = f"<bench-{ctx.index}@example.com>"
    if ctx.index and rng.random() < 0.4:
        msg["In-Reply-To"] = f"<bench-{rng.randrange(ctx.index)}@example.com>"
    body = [f"Hello {to.split()[0]},", ""]
    for _ in range(rng.randrange(2, 5)):
        body += textwrap.wrap(vocab.paragraph(rng, ctx, rng.randrange(2, 4)), 72) + [""]
    body += [vocab.closing(ctx), "", sender]
    msg.set_content("\n".join(body) + "\n")
    if rng.random() < 0.6:
        name, data, _ = write_review(rng, ctx)
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    else:
        name, data, _ = write_request(rng, ctx)
        msg.add_attachment(data, maintype="application", filename=name,
                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document")
    msg.set_boundary(f"=_bench_{ctx.index}")
    return f"{ctx.index:06d} {subject.replace(':', '').replace('/', '-')}.eml", msg.as_bytes(), 1


def _address(person: str) -> str:
    return person.lower().replace(" ", ".") + "@example.com"


# -- scans --------------------------------------------------------------------

@lru_cache(maxsize=1)
def _scan_template():
    """Return the blank form every scan is printed on, drawn once per process."""
    from PIL import Image, ImageDraw, ImageFont
    page = Image.new("L", SCAN_SIZE, 255)
    draw = ImageDraw.Draw(page)
    draw.text((140, 130), "DECISION RECORD", font=ImageFont.truetype(DEJAVU, 64), fill=0)
    draw.rectangle((120, 240, SCAN_SIZE[0] - 120, 250), fill=40)
    draw.rectangle((120, SCAN_SIZE[1] - 420, SCAN_SIZE[0] - 120, SCAN_SIZE[1] - 414), fill=60)
    return page


@lru_cache(maxsize=1)
def _scan_font():
    from PIL import ImageFont
    return ImageFont.truetype(DEJAVU, 40)


def write_scan(rng: random.Random, ctx: Context) -> tuple[str, bytes, int]:
    """A signed decision record printed and scanned: a PNG page at 300 dpi, slightly skewed."""
    from PIL import Image, ImageDraw
    page = _scan_template().copy()
    draw = ImageDraw.Draw(page)
    code, name, _ = ctx.product
    lines = [f"Change request: {ctx.cr}", f"Product: {code} {name}",
             f"Decision: {rng.choice(vocab.DECISIONS)}", f"Date: {ctx.day.isoformat()}", ""]
    lines += textwrap.wrap(vocab.paragraph(rng, ctx, rng.randrange(3, 6)), 62)
    lines += ["", f"Signed: {ctx.person}", f"Reference word {ctx.token}"]
    y = 300
    for line in lines:
        draw.text((140, y), line, font=_scan_font(), fill=25)
        y += 64
    draw.line([(160 + 30 * k, SCAN_SIZE[1] - 470 + rng.randrange(-25, 25)) for k in range(14)], fill=30, width=5)
    page = page.rotate(rng.uniform(-0.8, 0.8), resample=Image.BILINEAR, fillcolor=255)
    buffer = io.BytesIO()
    page.save(buffer, "PNG", dpi=(300, 300))
    return f"SCAN_{ctx.day.strftime('%Y%m%d')}_{ctx.index:06d}.png", buffer.getvalue(), 1


WRITERS = {"spec": write_spec, "review": write_review, "quote": write_quote, "request": write_request,
           "report": write_report, "notes": write_notes, "minutes": write_minutes, "mail": write_mail,
           "scan": write_scan}
