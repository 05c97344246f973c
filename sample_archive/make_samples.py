#!/usr/bin/env python3
"""Regenerate the sample inbox of a product coordinator (sample_archive/inbox/).

Run from the project root:

    .venv/bin/python sample_archive/make_samples.py

It deletes and rewrites sample_archive/inbox/, and rewrites
sample_archive/products.toml, sample_archive/truth.json and
sample_archive/README.md.  Everything is fictional.

Determinism: no clocks, no unseeded randomness.  PDF (fpdf2, Pillow) and DOCX
metadata dates are set explicitly, DOCX zip members get fixed timestamps, MIME
boundaries and Message-IDs are fixed, and every file's mtime is set to the date
of the document it represents.  Rerunning produces byte-identical files.

The "truth" (which products, change requests and document numbers each file
mentions) is declared next to the text that produces the file, then checked
twice: against the text the script wrote, and -- after writing -- against the
text read back with pypdf / python-docx / email / html.parser.  A declaration
that does not match the content stops the script.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import random
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.charset import BASE64, QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import docx
import pypdf
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
INBOX = HERE / "inbox"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

CEST = timezone(timedelta(hours=2))
CET = timezone(timedelta(hours=1))
COMPANY = "Brightwater Instruments GmbH"
SUPPLIER = "Acme Castings Ltd."

# ---------------------------------------------------------------------------
# Master data
# ---------------------------------------------------------------------------

PRODUCTS = [
    {"code": "WX-100", "name": "Widget X", "aliases": ["Widget-X", "WX100"]},
    {"code": "WX-200", "name": "Widget X Pro", "aliases": ["WX200", "Widget-X-Pro"]},
    {"code": "GB-7", "name": "Gearbox Seven", "aliases": ["GB7", "Gearbox 7"]},
]
# Look-alikes that appear in the texts and must NOT be recognised as products:
#   "WX-1000" (a competitor's handheld, meetings/ and intranet/),
#   "GB-70"   (the discontinued predecessor series, meetings/ .txt),
#   "Widget X Pro" contains "Widget X" but means WX-200 only,
#   "Widget-X-Pro" contains the WX-100 alias "Widget-X" but means WX-200 only,
#   "AC-3310-AL" (a supplier part number) is not DWG-3310,
#   "CR-2023-0990" sits in an HTML comment (not visible text) of the intranet page.

@dataclass(frozen=True)
class Person:
    name: str
    role: str
    email: str


P = {
    "hb": Person("Hannah Brandt", "Mechanical Design Engineer", "hannah.brandt@brightwater.example"),
    "do": Person("Daniel Okafor", "Product Manager, Handheld Devices", "daniel.okafor@brightwater.example"),
    "pn": Person("Priya Nair", "Quality Engineer", "priya.nair@brightwater.example"),
    "mm": Person("Markus Müller", "Manufacturing Engineering Lead", "markus.mueller@brightwater.example"),
    "sl": Person("Sofia Lindqvist", "Product Manager, Drive Systems", "sofia.lindqvist@brightwater.example"),
    "th": Person("Tomás Herrera", "Firmware Engineer", "tomas.herrera@brightwater.example"),
    "er": Person("Elena Rossi", "Head of Engineering", "elena.rossi@brightwater.example"),
    "gp": Person("Gareth Pryce", "Sales Engineer", "g.pryce@acme-castings.example"),
}

# Change requests: the rows of each request form (form QF-07).  "also_crs" and "cites"
# declare the other CRs and document numbers that the form's text mentions.
CRS = {
    "CR-2024-0142": {
        "product": "WX-100",
        "title": "Housing material change: die-cast zinc to aluminium",
        "requester": "hb",
        "date": datetime(2024, 9, 3, 9, 40),
        "description": (
            "Change the material of the Widget X housing (DWG-3310 Rev A) from die-cast zinc alloy "
            "ZP5 to the aluminium die-casting alloy EN AC-46000. Customers who mount the WX-100 on "
            "plasterboard walls report that the unit is too heavy (housing 412 g, complete unit 655 g). "
            "Geometry, wall thickness and fixing points stay as drawn; only the material callout and "
            "the surface treatment change."
        ),
        "risk": (
            "New casting tool at the supplier. Aluminium is more prone to porosity at the 1.8 mm walls "
            "and to galvanic corrosion at the M4 steel inserts. EMC shielding must be re-verified. "
            "Requalification (drop test, salt spray) is needed before series release."
        ),
        "benefit": (
            "Housing weight drops from 412 g to 168 g (-59 %). Housing unit cost falls by about "
            "EUR 1.35. Answers the most frequent complaint of the 2024 customer survey; the wall-mount "
            "kit can be simplified."
        ),
        "cost": (
            "One-off tooling EUR 38,500 (Acme Castings Ltd., quotation 24/0917); requalification "
            "EUR 6,200; approx. 60 h engineering. Break-even after approx. 33,000 units, i.e. about "
            "22 months at the current volume of 18,000 units per year."
        ),
        "decision": "Pending - to be reviewed and presented at the CCB.",
        "docx_revision": 2,
        "cites": ["DWG-3310"],
    },
    "CR-2024-0157": {
        "product": "WX-100",
        "title": "Replace micro-USB service port with USB-C",
        "requester": "th",
        "date": datetime(2024, 9, 17, 14, 5),
        "description": (
            "Replace the micro-USB service connector on the WX-100 main board with a USB-C receptacle. "
            "Service technicians increasingly carry USB-C cables only."
        ),
        "risk": (
            "The housing cut-out in DWG-3310 Rev A must be enlarged, which changes the casting tool. "
            "Board re-layout; USB-C needs CC resistors and a new ESD test."
        ),
        "benefit": (
            "Convenience for service technicians. No benefit visible to customers: the port sits "
            "behind the battery cover."
        ),
        "cost": "Board re-layout and re-spin EUR 14,800; tool modification EUR 9,200; unit cost +EUR 0.42.",
        "decision": "Rejected by the CCB on 8 Oct 2024 - revisit at the next housing redesign (see minutes).",
        "docx_revision": 3,
        "modified": datetime(2024, 10, 9, 8, 15),
        "cites": ["DWG-3310"],
    },
    "CR-2024-0163": {
        "product": "WX-200",
        "title": "Conformal coating of the main PCB assembly",
        "requester": "pn",
        "date": datetime(2024, 9, 26, 11, 20),
        "description": (
            "Apply an acrylic conformal coating (IPC-CC-830 qualified) to the main PCB assembly of the "
            "WX-200 Widget X Pro. Fourteen field returns from coastal and tropical sites in Q3 2024 "
            "showed dendritic growth between the fine-pitch connector pins."
        ),
        "risk": (
            "Connectors and the pressure sensor port must be masked. Adds a process step and cure "
            "time at the EMS supplier; coated boards are harder to rework."
        ),
        "benefit": (
            "Expected reduction of humidity-related field failures by more than 80 %. Allows the "
            "Widget X Pro to be offered in the IP65 outdoor kit."
        ),
        "cost": "EUR 0.85 per board for coating and inspection; masking fixture EUR 4,900 one-off; pilot lot of 200 units.",
        "decision": "Pending.",
        "docx_revision": 1,
    },
    "CR-2024-0171": {
        "product": "WX-200",
        "title": "Firmware: brown-out event logging",
        "requester": "th",
        "date": datetime(2024, 11, 14, 16, 30),
        "description": (
            "Log brown-out resets with timestamp and supply voltage in the non-volatile event log of "
            "the WX200 firmware (v3.4 onwards), so that service can tell supply problems from "
            "firmware faults."
        ),
        "risk": "Flash wear if a unit sees repeated brown-outs; limited to a ring buffer of 64 entries. No hardware change.",
        "benefit": "Faster diagnosis of field returns; supports the humidity investigation behind CR-2024-0163.",
        "cost": "Approx. 40 h firmware and 16 h test; no unit cost.",
        "decision": "Pending - not yet reviewed.",
        "docx_revision": 1,
        "also_crs": ["CR-2024-0163"],
    },
    "CR-2025-0008": {
        "product": "GB-7",
        "title": "Change gear lubricant to synthetic ISO VG 150",
        "requester": "mm",
        "date": datetime(2025, 1, 13, 10, 0),
        "description": (
            "Replace the mineral gear oil ISO VG 220 in the GB-7 Gearbox Seven with a synthetic PAO "
            "oil ISO VG 150, as already used on the pump line. Fill quantity unchanged (0.45 l)."
        ),
        "risk": (
            "Compatibility with the NBR radial shaft seals must be confirmed; the lower viscosity may "
            "raise gear noise at low speed; customers refilling with mineral oil could mix oils."
        ),
        "benefit": (
            "Operating temperature 8 K lower in the 2,000 h test; oil change interval extended from "
            "5,000 h to 10,000 h; one lubricant for two assembly lines."
        ),
        "cost": "Oil +EUR 2.10 per gearbox; endurance test EUR 7,400; update of label and operating manual.",
        "decision": "Pending - review by product management.",
        "docx_revision": 2,
    },
    "CR-2025-0013": {
        "product": "GB-7",
        "title": "Second source for the output shaft bearing",
        "requester": "sl",
        "date": datetime(2025, 2, 4, 13, 45),
        "description": (
            "Qualify a second source for the deep-groove ball bearing 6205-2RS on the output shaft of "
            "the GB7 gearbox. The current single source quoted 26 weeks lead time for 2025."
        ),
        "risk": "Different bearing noise and grease fill; incoming inspection needs a new test plan.",
        "benefit": "Supply security; the second source quotes a unit price 6 % lower.",
        "cost": "Qualification tests EUR 3,100; sample bearings EUR 450.",
        "decision": "Pending.",
        "docx_revision": 1,
    },
}

# ---------------------------------------------------------------------------
# Truth bookkeeping and a small reference recogniser used to check it
# ---------------------------------------------------------------------------

@dataclass
class Entry:
    products: list[str]
    change_requests: list[str]
    doc_number: str | None
    revision: str | None
    cites: list[str]
    kind: str
    date: datetime
    what: str
    text: str = ""                     # what the script wrote (visible text + metadata)
    expect_reject: bool = False
    ocr_only: bool = False


ENTRIES: dict[str, Entry] = {}


def declare(rel: str, *, products, crs=(), doc_number=None, revision=None, cites=(), kind, date, what,
            expect_reject=False, ocr_only=False) -> Entry:
    assert rel not in ENTRIES, rel
    e = Entry(sorted(products), sorted(crs), doc_number, revision, sorted(cites), kind, date, what,
              expect_reject=expect_reject, ocr_only=ocr_only)
    ENTRIES[rel] = e
    return e


_TERMS = sorted(
    ((t, p["code"]) for p in PRODUCTS for t in [p["code"], p["name"], *p["aliases"]]),
    key=lambda tc: -len(tc[0]),
)
_TERM_RES = [
    (re.compile(r"(?<![\w-])" + re.escape(t).replace(r"\ ", r"\s+") + r"(?!\w|-\d)", re.I), code)
    for t, code in _TERMS
]
CR_RE = re.compile(r"(?<![\w-])CR[-\s]?(\d{4})[-/\s](\d{4})(?![\w-])", re.I)
DOCNO_RE = re.compile(r"(?<![\w-])(SPEC|DWG|ECO)-(\d{3,5})(?![\w-])")


def recognise(text: str) -> tuple[list[str], list[str], list[str]]:
    """Products (longest term wins), canonical CR ids, document numbers."""
    spans: list[tuple[int, int, str]] = []
    for rx, code in _TERM_RES:          # longer terms first
        for m in rx.finditer(text):
            if not any(s < m.end() and m.start() < e for s, e, _ in spans):
                spans.append((m.start(), m.end(), code))
    products = sorted({c for _, _, c in spans})
    crs = sorted({f"CR-{y}-{n}" for y, n in CR_RE.findall(text)})
    docnos = sorted({f"{a}-{b}" for a, b in DOCNO_RE.findall(text)})
    return products, crs, docnos


def check(rel: str, text: str, source: str) -> None:
    e = ENTRIES[rel]
    products, crs, docnos = recognise(text)
    expected_docnos = sorted(set(e.cites) | ({e.doc_number} if e.doc_number else set()))
    problems = []
    if products != e.products:
        problems.append(f"products {products} != declared {e.products}")
    if crs != e.change_requests:
        problems.append(f"CRs {crs} != declared {e.change_requests}")
    if docnos != expected_docnos:
        problems.append(f"doc numbers {docnos} != declared {expected_docnos}")
    if e.doc_number and e.revision and not re.search(
            re.escape(e.doc_number) + r"\s+Rev\.?\s+" + e.revision + r"\b", text):
        problems.append(f"'{e.doc_number} Rev {e.revision}' not found")
    if problems:
        raise SystemExit(f"truth mismatch in {rel} ({source}): " + "; ".join(problems))


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------

def out(rel: str) -> Path:
    path = HERE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def utc(dt: datetime) -> datetime:
    """Naive local (Europe/Berlin-ish) time -> aware UTC, using CEST/CET by month."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CEST if 4 <= dt.month <= 10 else CET)
    return dt.astimezone(timezone.utc)


def set_mtime(path: Path, dt: datetime) -> None:
    ts = utc(dt).timestamp()
    os.utime(path, (ts, ts))


class DocPDF(FPDF):
    """A4 company document with running header and page footer."""

    def __init__(self, header_left: str, header_right: str, footer: str):
        super().__init__(format="A4")
        self.header_left, self.header_right, self.footer_text = header_left, header_right, footer
        self.add_font("DejaVu", "", str(FONT))
        self.add_font("DejaVu", "B", str(FONT_BOLD))
        self.set_margins(20, 22, 20)
        self.set_auto_page_break(True, 20)
        self.written: list[str] = []

    def header(self):
        self.set_font("DejaVu", "", 8)
        self.set_text_color(90)
        self.cell(85, 5, self.header_left)
        self.cell(0, 5, self.header_right, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.line(20, self.get_y() + 1, 190, self.get_y() + 1)
        self.ln(6)
        self.set_text_color(0)

    def footer(self):
        self.set_y(-14)
        self.set_font("DejaVu", "", 8)
        self.set_text_color(90)
        self.cell(120, 5, self.footer_text)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)

    # content helpers (they remember the text for the truth check)
    def title_block(self, text: str, size: int = 17):
        self.set_font("DejaVu", "B", size)
        self.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)
        self.written.append(text)

    def h2(self, text: str):
        self.ln(2)
        self.set_font("DejaVu", "B", 11.5)
        self.multi_cell(0, 6.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)
        self.written.append(text)

    def para(self, text: str, size: float = 10):
        self.set_font("DejaVu", "", size)
        self.multi_cell(0, size * 0.52, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2.2)
        self.written.append(text)

    def fields(self, rows: list[tuple[str, str]], label_w: float = 38):
        for label, value in rows:
            self.set_font("DejaVu", "B", 10)
            self.cell(label_w, 5.6, label)
            self.set_font("DejaVu", "", 10)
            self.multi_cell(0, 5.6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.written.extend([label, value])
        self.ln(3)

    def grid(self, rows: list[tuple[str, ...]], widths: tuple[float, ...], align=None):
        self.set_font("DejaVu", "", 9)
        with self.table(col_widths=widths, line_height=5.2, text_align=align or "LEFT",
                        padding=1.2, first_row_as_headings=True) as table:
            for row in rows:
                r = table.row()
                for c in row:
                    r.cell(c)
                    self.written.append(c)
        self.ln(4)


def finish_pdf(pdf: DocPDF, *, title: str, author: str, subject: str, keywords: str,
               created: datetime) -> tuple[bytes, str]:
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_subject(subject)
    pdf.set_keywords(keywords)
    pdf.set_creator(f"{COMPANY} document templates")
    pdf.set_lang("en-GB")
    pdf.set_creation_date(utc(created))
    data = bytes(pdf.output())
    text = "\n".join([title, author, subject, keywords, pdf.header_left, pdf.header_right,
                      pdf.footer_text, *pdf.written])
    return data, text


def write_pdf(rel: str, pdf: DocPDF, **meta) -> bytes:
    data, text = finish_pdf(pdf, **meta)
    path = out(rel)
    path.write_bytes(data)
    ENTRIES[rel].text = text
    set_mtime(path, meta["created"])
    return data


def fixed_zip(data: bytes, when: datetime) -> bytes:
    """Rewrite a zip (DOCX) with fixed member timestamps and attributes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zi.create_system = 0
            dst.writestr(zi, src.read(info.filename))
    return buf.getvalue()


def write_text(rel: str, text: str, when: datetime, encoding="utf-8", newline="\n",
               visible: str | None = None) -> None:
    path = out(rel)
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    ENTRIES[rel].text = visible if visible is not None else text
    set_mtime(path, when)


# ---------------------------------------------------------------------------
# Change request forms (DOCX)
# ---------------------------------------------------------------------------

CR_FILES = {
    "CR-2024-0142": "inbox/change-requests/CR-2024-0142_request.docx",
    "CR-2024-0157": "inbox/change-requests/CR-2024-0157_USB-C_request_TH.docx",
    "CR-2024-0163": "inbox/change-requests/CR_2024_0163 conformal coating.docx",
    "CR-2024-0171": "inbox/change-requests/CR-2024-0171_request.docx",
    "CR-2025-0008": "inbox/change-requests/CR-2025-0008_request_v2.docx",
    "CR-2025-0013": "inbox/change-requests/CR-2025-0013_request.docx",
}


def product_label(code: str) -> str:
    p = next(p for p in PRODUCTS if p["code"] == code)
    return f"{p['code']} {p['name']}"


def make_cr_form(cr_id: str) -> None:
    cr = CRS[cr_id]
    rel = CR_FILES[cr_id]
    requester = P[cr["requester"]]
    declare(rel, products=[cr["product"]], crs=[cr_id, *cr.get("also_crs", [])], cites=cr.get("cites", []),
            kind="change request form (DOCX)", date=cr["date"],
            what=f"request form of {cr_id}: {cr['title']}; decision row: {cr['decision']}")

    d = docx.Document()
    style = d.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(10.5)
    sec = d.sections[0]
    sec.page_height, sec.page_width = Cm(29.7), Cm(21.0)
    sec.left_margin = sec.right_margin = Cm(2.0)
    header_text = f"{COMPANY} \u2013 Form QF-07 Change Request (rev 3)"
    sec.header.paragraphs[0].text = header_text
    footer_text = "Submit to the CCB secretary. Decisions are recorded in the CCB minutes."
    sec.footer.paragraphs[0].text = footer_text

    heading = f"Change Request {cr_id}"
    d.add_heading(heading, level=0)
    sub = d.add_paragraph()
    sub.add_run(cr["title"]).bold = True

    rows = [
        ("Requester", f"{requester.name}, {requester.role}"),
        ("Date", cr["date"].strftime("%Y-%m-%d")),
        ("Affected product", product_label(cr["product"])),
        ("Description", cr["description"]),
        ("Risk", cr["risk"]),
        ("Benefit", cr["benefit"]),
        ("Cost", cr["cost"]),
        ("Decision", cr["decision"]),
    ]
    table = d.add_table(rows=len(rows), cols=2)
    table.style = "Table Grid"
    for i, (k, v) in enumerate(rows):
        a, b = table.rows[i].cells
        a.width, b.width = Cm(4.0), Cm(13.0)
        a.text = ""
        a.paragraphs[0].add_run(k).bold = True
        b.text = v
    p = d.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    p.add_run(f"Form completed by {requester.name}").italic = True

    cp = d.core_properties
    cp.title = heading
    cp.subject = cr["title"]
    cp.author = requester.name
    cp.keywords = f"{cr_id}; {cr['product']}; change request"
    cp.category = "Change request"
    cp.comments = ""
    cp.language = "en-GB"
    cp.created = utc(cr["date"]).replace(tzinfo=None)
    modified = cr.get("modified", cr["date"] + timedelta(minutes=25))
    cp.modified = utc(modified).replace(tzinfo=None)
    cp.last_modified_by = P["do"].name if "modified" in cr else requester.name
    cp.revision = cr["docx_revision"]
    cp.last_printed = datetime(2000, 1, 1)   # fixed; python-docx would otherwise keep the template's

    buf = io.BytesIO()
    d.save(buf)
    path = out(rel)
    path.write_bytes(fixed_zip(buf.getvalue(), modified))
    set_mtime(path, modified)
    ENTRIES[rel].text = "\n".join([heading, header_text, footer_text, cr["title"], cp.keywords,
                                   *[f"{k}\n{v}" for k, v in rows], requester.name])


# ---------------------------------------------------------------------------
# Review memos, ECO, specifications, supplier quotes (text-layer PDFs)
# ---------------------------------------------------------------------------

def memo(rel: str, cr_id: str, author: str, date: datetime, to: str, relevance: str, risks: str,
         benefits: str, costs: list[tuple[str, str]], recommendation: str, products, crs, cites,
         what: str) -> None:
    cr = CRS[cr_id]
    declare(rel, products=products, crs=crs, cites=cites, kind="review memo (PDF)", date=date, what=what)
    a = P[author]
    pdf = DocPDF(COMPANY, f"Review memo \u2013 {cr_id}", "Internal \u2013 CCB working paper")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.title_block(f"Review memo \u2013 {cr_id}")
    pdf.fields([
        ("To:", to),
        ("From:", f"{a.name}, {a.role}"),
        ("Date:", f"{date.day} {date:%B %Y}"),
        ("Subject:", f"{cr_id} {cr['title']} ({product_label(cr['product'])})"),
    ], label_w=24)
    pdf.h2("1. Relevance")
    pdf.para(relevance)
    pdf.h2("2. Risks")
    pdf.para(risks)
    pdf.h2("3. Benefits")
    pdf.para(benefits)
    pdf.h2("4. Costs")
    pdf.grid([("Item", "Amount")] + costs, widths=(120, 50))
    pdf.h2("5. Recommendation")
    pdf.para(recommendation)
    pdf.ln(4)
    pdf.para(f"{a.name}\n{a.role}")
    write_pdf(rel, pdf, title=f"Review memo \u2013 {cr_id}", author=a.name,
              subject=f"Review of {cr_id}: {cr['title']}",
              keywords=f"{cr_id}, {cr['product']}, review, CCB", created=date)


def make_memos() -> None:
    memo(
        "inbox/change-requests/review_CR-2024-0142_final.pdf", "CR-2024-0142", "do",
        datetime(2024, 9, 30, 16, 10), "Change Control Board (chair: Elena Rossi)",
        relevance=(
            "The weight of the Widget X is the most frequent complaint in the 2024 customer survey "
            "(31 % of respondents, mostly installers mounting the unit on plasterboard). The change "
            "applies to all new production of the WX-100; units in the field are not affected and "
            "no retrofit is planned."
        ),
        risks=(
            "Porosity at the 1.8 mm walls: Acme Castings Ltd. proposes vacuum-assisted casting and "
            "X-ray sampling during the first article inspection. Galvanic corrosion at the M4 steel "
            "inserts: insulating washers are needed. EMC: aluminium shields slightly better than zinc, "
            "but the gasket contact must be re-tested. SPEC-104 Rev B, section 4.2, asks for only "
            "96 h neutral salt spray (ISO 9227); for aluminium I recommend 240 h in the next revision. "
            "The geometry of DWG-3310 Rev A stays valid; only the material note changes."
        ),
        benefits=(
            "Housing weight 412 g to 168 g (-59 %), complete unit 655 g to 411 g. Housing unit price "
            "EUR 2.85 instead of EUR 4.20, i.e. EUR 1.35 saving per unit, EUR 24,300 per year at "
            "18,000 units."
        ),
        costs=[("Casting tool, 2-cavity (Acme quotation 24/0917)", "EUR 38,500"),
               ("Requalification: drop test, salt spray, EMC", "EUR 6,200"),
               ("Engineering, approx. 60 h (internal)", "EUR 5,400"),
               ("Break-even (tool and requalification)", "approx. 22 months")],
        recommendation=(
            "Approve, subject to successful requalification before series release. To be presented "
            "at the CCB on 8 October 2024. If approved, product management raises an ECO and "
            "engineering releases SPEC-104 Rev C with the new material."
        ),
        products=["WX-100"], crs=["CR-2024-0142"], cites=["SPEC-104", "DWG-3310"],
        what="review of CR-2024-0142: relevance, risks, benefits, costs; recommends approval",
    )
    memo(
        "inbox/change-requests/review memo 0157.pdf", "CR-2024-0157", "do",
        datetime(2024, 10, 1, 11, 30), "Change Control Board (chair: Elena Rossi)",
        relevance=(
            "Low. The service port of the WX-100 is used only by our own technicians and sits behind "
            "the battery cover; no customer has asked for USB-C. Adapters cost EUR 3 per technician."
        ),
        risks=(
            "The larger cut-out changes the housing geometry of DWG-3310 Rev A and reduces the sealing "
            "land around the port; ingress protection IP54 per SPEC-104 Rev B, section 3.4, would have "
            "to be re-tested. Combining the tool modification with the new aluminium tool of "
            "CR-2024-0142 would delay that change by at least eight weeks."
        ),
        benefits="Convenience for service; one cable type fewer in the service kit.",
        costs=[("Board re-layout and re-spin", "EUR 14,800"),
               ("Casting tool modification", "EUR 9,200"),
               ("Unit cost increase", "EUR 0.42")],
        recommendation=(
            "Reject for now. Reconsider when the housing is next redesigned; keep the request on "
            "the list of deferred improvements."
        ),
        products=["WX-100"], crs=["CR-2024-0157", "CR-2024-0142"], cites=["SPEC-104", "DWG-3310"],
        what="review of CR-2024-0157; recommends rejection",
    )
    memo(
        "inbox/change-requests/CR-2024-0163_review.pdf", "CR-2024-0163", "do",
        datetime(2024, 10, 4, 9, 50), "Change Control Board (chair: Elena Rossi)",
        relevance=(
            "High. Fourteen returns of the Widget X Pro from coastal and tropical sites in Q3 2024 "
            "were caused by humidity; two of them were safety-relevant warranty cases. The WX-200 is "
            "about to be offered in an IP65 outdoor kit."
        ),
        risks=(
            "Masking of connectors and of the pressure sensor port; additional cure time at the EMS "
            "supplier (one shift per week). SPEC-211 Rev A does not yet specify a coating; section 6 "
            "needs an addendum with coating thickness (25-75 \u00b5m) and inspection under UV light."
        ),
        benefits="Expected reduction of humidity-related failures by more than 80 %; opens the outdoor kit.",
        costs=[("Coating and UV inspection per board", "EUR 0.85"),
               ("Masking fixture (one-off)", "EUR 4,900"),
               ("Pilot lot, 200 units incl. humidity test", "EUR 2,300")],
        recommendation=(
            "Approve with the condition that a pilot lot of 200 units passes the 85 \u00b0C / 85 % RH "
            "test before the change goes to series production."
        ),
        products=["WX-200"], crs=["CR-2024-0163"], cites=["SPEC-211"],
        what="review of CR-2024-0163; recommends conditional approval (pilot lot)",
    )
    memo(
        "inbox/change-requests/CR-2025-0008_review_memo.pdf", "CR-2025-0008", "sl",
        datetime(2025, 2, 3, 15, 20), "Change Control Board (chair: Elena Rossi)",
        relevance=(
            "Medium. The GB-7 is the only gearbox still filled with mineral oil; one lubricant for "
            "both assembly lines simplifies logistics. Customers benefit from the longer oil change "
            "interval of the Gearbox Seven."
        ),
        risks=(
            "SPEC-305 Rev D, section 5, lists NBR seals as qualified for mineral oil only. PAO oils "
            "can shrink NBR; the seal supplier's statement is pending. Noise at low speed must be "
            "measured. Service must be told not to mix oils."
        ),
        benefits="Operating temperature 8 K lower; oil change interval 10,000 h instead of 5,000 h.",
        costs=[("Synthetic oil, per gearbox", "+EUR 2.10"),
               ("Endurance test 500 h, two units", "EUR 7,400"),
               ("Labels and manual update", "EUR 900")],
        recommendation=(
            "Defer the decision until the 500 h endurance test with the series NBR seals is finished "
            "(expected end of March 2025)."
        ),
        products=["GB-7"], crs=["CR-2025-0008"], cites=["SPEC-305"],
        what="review of CR-2025-0008; recommends deferral until the endurance test",
    )


def make_eco() -> None:
    rel = "inbox/change-requests/ECO-1123.pdf"
    date = datetime(2024, 10, 21, 10, 5)
    declare(rel, products=["WX-100"], crs=["CR-2024-0142"], doc_number="ECO-1123",
            cites=["SPEC-104", "DWG-3310"], kind="engineering change order (PDF)", date=date,
            what="ECO-1123 authorises implementation of CR-2024-0142")
    pdf = DocPDF(COMPANY, "ECO-1123", "Controlled document \u2013 valid only in the QMS")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.title_block("Engineering Change Order ECO-1123")
    pdf.fields([
        ("ECO number:", "ECO-1123"),
        ("Date:", "2024-10-21"),
        ("Product:", "WX-100 Widget X"),
        ("Change request:", "CR-2024-0142 \u2013 housing material change, die-cast zinc to aluminium"),
        ("Basis:", "CCB decision of 2024-10-08 (approved); decision record signed 2024-10-10"),
        ("Originator:", f"{P['do'].name}, {P['do'].role}"),
    ], label_w=36)
    pdf.h2("1. Authorisation")
    pdf.para(
        "This ECO authorises the implementation of CR-2024-0142 in series production. Purchasing "
        "may release the tooling order to Acme Castings Ltd. (quotation 24/0917, purchase order "
        "PO 4500-2291). Engineering releases the revised documents listed below."
    )
    pdf.h2("2. Affected documents")
    pdf.grid([
        ("Document", "Change", "Owner"),
        ("SPEC-104 Rev B \u2192 Rev C", "Material EN AC-46000, conversion coating, salt spray 240 h", "H. Brandt"),
        ("DWG-3310 Rev A", "Geometry unchanged; material note refers to SPEC-104", "H. Brandt"),
        ("BOM position 10", "Housing part number changes to the aluminium part", "D. Okafor"),
        ("Work instruction WI-31", "Insulating washers at the four M4 inserts", "M. M\u00fcller"),
    ], widths=(48, 88, 34))
    pdf.h2("3. Implementation and effectivity")
    pdf.para(
        "Effective from production lot 2024-47. Remaining zinc housings (approx. 1,150 pieces) are "
        "used up first; disposition: use as is. Requalification (drop test, 240 h salt spray, EMC) "
        "must be passed and the first article inspection report accepted before the first "
        "aluminium housing is built in."
    )
    pdf.h2("4. Sign-off")
    pdf.grid([
        ("Role", "Name", "Date"),
        ("Head of Engineering", P["er"].name, "2024-10-21"),
        ("Product Manager", P["do"].name, "2024-10-21"),
        ("Manufacturing Engineering", P["mm"].name, "2024-10-22"),
    ], widths=(60, 70, 40))
    write_pdf(rel, pdf, title="Engineering Change Order ECO-1123", author=P["do"].name,
              subject="Authorisation of CR-2024-0142 (WX-100 housing material)",
              keywords="ECO-1123, CR-2024-0142, WX-100, SPEC-104, DWG-3310", created=date)


SPEC_HISTORY = [
    ("A", "2022-06-01", "Initial release.", "H. Brandt"),
    ("B", "2024-03-12", "Powder coat colour changed from RAL 7035 to RAL 7016 (marketing decision).", "H. Brandt"),
    ("C", "2024-11-20", "Housing material changed to aluminium EN AC-46000; conversion coating; insulating "
                        "washers at inserts; salt spray 240 h. Implements CR-2024-0142 per ECO-1123.", "H. Brandt"),
]


def make_spec(rev: str) -> None:
    rel = f"inbox/specs/SPEC-104_Rev{rev}.pdf"
    date = {"B": datetime(2024, 3, 12, 8, 30), "C": datetime(2024, 11, 20, 14, 0)}[rev]
    c = rev == "C"
    declare(rel, products=["WX-100"], crs=["CR-2024-0142"] if c else [], doc_number="SPEC-104",
            revision=rev, cites=["DWG-3310", "ECO-1123"] if c else ["DWG-3310"],
            kind="specification (PDF)", date=date,
            what=f"housing specification, revision {rev}" + (" (implements CR-2024-0142)" if c else ""))
    pdf = DocPDF(COMPANY, f"SPEC-104 Rev {rev}", f"Released {date:%Y-%m-%d} \u2013 controlled copy")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.title_block(f"SPEC-104 Rev {rev}\nHousing Specification \u2013 Widget X (WX-100)")
    pdf.fields([
        ("Document:", "SPEC-104"),
        ("Revision:", rev),
        ("Release date:", f"{date:%Y-%m-%d}"),
        ("Author:", P["hb"].name),
        ("Approved:", P["er"].name),
        ("Status:", "Released"),
    ], label_w=32)
    if c:
        pdf.para("This revision implements CR-2024-0142 (housing material change), authorised by ECO-1123. "
                 "It supersedes Rev B.")
    pdf.h2("1. Scope")
    pdf.para("This specification defines material, surface treatment and verification of the housing of the "
             "WX-100 handheld unit. Geometry and tolerances are defined in drawing DWG-3310 Rev A.")
    pdf.h2("2. Referenced documents")
    pdf.para("DWG-3310 Rev A \u2013 Housing, top and bottom shell\nISO 9227 \u2013 Salt spray tests\n"
             "IEC 60529 \u2013 Degrees of protection (IP code)\n"
             + ("EN 1706 \u2013 Aluminium and aluminium alloys, castings" if c else
                "EN 12844 \u2013 Zinc and zinc alloys, castings"))
    pdf.h2("3. Requirements")
    pdf.para("3.1 Material. " + (
        "Aluminium die-casting alloy EN AC-46000 (AlSi9Cu3(Fe)) per EN 1706, vacuum-assisted casting. "
        "Porosity in the sealing faces is not permitted (X-ray sampling per first article inspection)."
        if c else
        "Zinc die-casting alloy ZP5 (ZnAl4Cu1) per EN 12844."))
    pdf.para("3.2 Wall thickness. Nominal 1.8 mm, minimum 1.5 mm, as drawn in DWG-3310 Rev A.")
    pdf.para("3.3 Surface treatment. " + (
        "Chromate-free conversion coating, then powder coat RAL 7016 anthracite, 60-90 \u00b5m. "
        "Insulating washers are fitted at the four M4 steel inserts."
        if c else
        "Powder coat RAL 7016 anthracite, 60-90 \u00b5m, on phosphated surface."))
    pdf.para("3.4 Ingress protection. IP54 per IEC 60529 with gasket fitted and service port closed.")
    pdf.h2("4. Verification")
    pdf.para("4.1 Drop test. 1.2 m onto concrete, each of the six faces, no cracks, unit functional.")
    pdf.para("4.2 Corrosion. Neutral salt spray per ISO 9227 for " + ("240 h" if c else "96 h") +
             "; no red or white corrosion on significant surfaces, blistering at most 2(S2).")
    pdf.para("4.3 Shielding. Shielding attenuation of the assembled housing at least 30 dB from 30 MHz to 1 GHz.")
    pdf.h2("5. Revision history")
    hist = [h for h in SPEC_HISTORY if h[0] <= rev]
    pdf.grid([("Rev", "Date", "Change", "By")] + hist, widths=(12, 26, 104, 28))
    write_pdf(rel, pdf, title=f"SPEC-104 Rev {rev} Housing Specification \u2013 Widget X",
              author=P["hb"].name, subject="Housing material, surface treatment and verification",
              keywords=f"SPEC-104, Rev {rev}, WX-100, housing, DWG-3310", created=date)


QUOTE_REL = "inbox/suppliers/Acme_Quotation_24-0917.pdf"


def quote_pdf(number: str, date: datetime, ref: str, drawing: str, rows, notes: str) -> DocPDF:
    pdf = DocPDF(SUPPLIER, f"Quotation {number}", "Acme Castings Ltd. \u00b7 Unit 7, Foundry Park \u00b7 "
                 "Sheffield \u00b7 Registered in England")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.title_block(f"QUOTATION No. {number}")
    pdf.fields([
        ("Date:", date.strftime("%d %B %Y")),
        ("Valid until:", (date + timedelta(days=90)).strftime("%d %B %Y")),
        ("Customer:", f"{COMPANY}, attn. {P['hb'].name}"),
        ("Your reference:", ref),
        ("Drawing:", drawing),
        ("Contact:", f"{P['gp'].name}, {P['gp'].role}, {P['gp'].email}"),
    ], label_w=34)
    pdf.grid([("Pos", "Description", "Qty", "Unit EUR", "Total EUR")] + rows,
             widths=(10, 88, 20, 24, 28))
    pdf.para(notes, size=9)
    pdf.para(f"Kind regards,\n{P['gp'].name}\n{P['gp'].role}, {SUPPLIER}")
    return pdf


def make_quotes() -> bytes:
    date = datetime(2024, 9, 20, 12, 0)
    declare(QUOTE_REL, products=["WX-100"], crs=["CR-2024-0142"], cites=["DWG-3310"],
            kind="supplier quotation (PDF)", date=date,
            what="Acme quotation 24/0917: tooling and unit price for the aluminium housing")
    pdf = quote_pdf(
        "24/0917", date, "CR-2024-0142 / WX100 housing, aluminium version",
        "DWG-3310 Rev A, material changed to EN AC-46000",
        [("1", "Die-casting tool, 2-cavity, EN AC-46000, per drawing", "1", "38,500.00", "38,500.00"),
         ("2", "First article inspection report, 5 samples incl. X-ray", "1", "1,250.00", "1,250.00"),
         ("3", "Housing, aluminium die-cast, fettled and shot-blasted", "18,000", "2.85", "51,300.00")],
        "Tool lead time 10 weeks after order, samples 2 weeks later. Prices ex works Sheffield "
        "(EXW, Incoterms 2020), excluding VAT. Payment: tool 50 % with order, 50 % on sample "
        "approval; parts 30 days net. Current zinc housing for comparison: EUR 4.20 per piece.",
    )
    quote = write_pdf(QUOTE_REL, pdf, title="Quotation 24/0917 \u2013 aluminium housing",
                      author=P["gp"].name, subject="Quotation for die-cast aluminium housing",
                      keywords="quotation, 24/0917, CR-2024-0142", created=date)

    # Deliberately broken file: a later quotation for the GB-7 cover, cut in half as if
    # the download or the mail client gave up.  It has no cross-reference "truth"
    # because nothing can read it; `archiver ingest` should record it as a reject.
    rel = "inbox/suppliers/quote-truncated.pdf"
    date2 = datetime(2025, 1, 22, 9, 0)
    declare(rel, products=[], kind="broken PDF (truncated)", date=date2,
            what="truncated PDF; expected to be rejected on ingest", expect_reject=True)
    pdf2 = quote_pdf(
        "25/0031", date2, "GB-7 gearbox cover, grey cast iron", "customer drawing, revision pending",
        [("1", "Gearbox cover, EN-GJL-250, machined", "1,200", "11.60", "13,920.00")],
        "Prices ex works Sheffield, excluding VAT.",
    )
    data, _ = finish_pdf(pdf2, title="Quotation 25/0031", author=P["gp"].name,
                         subject="Quotation for gearbox cover", keywords="quotation, 25/0031",
                         created=date2)
    path = out(rel)
    path.write_bytes(data[: len(data) // 2])
    set_mtime(path, date2)
    ENTRIES[rel].text = ""
    return quote


# ---------------------------------------------------------------------------
# Price list (CSV)
# ---------------------------------------------------------------------------

def make_pricelist() -> None:
    rel = "inbox/suppliers/acme_pricelist_2025.csv"
    date = datetime(2025, 1, 6, 11, 0)
    declare(rel, products=["WX-100", "WX-200", "GB-7"], cites=["DWG-3310"],
            kind="supplier price list (CSV, UTF-8 with BOM, CRLF)", date=date,
            what="Acme 2025 price list for housings and covers")
    rows = [
        ("part_no", "description", "product", "material", "drawing", "unit_price_eur", "moq",
         "lead_time_weeks", "valid_from"),
        ("AC-3310-ZN", "Housing, die-cast zinc", "WX-100", "ZP5", "DWG-3310 Rev A", "4.20", "1000", "6", "2025-01-01"),
        ("AC-3310-AL", "Housing, die-cast aluminium", "WX-100", "EN AC-46000", "DWG-3310 Rev A", "2.85", "1000", "6", "2025-01-01"),
        ("AC-4410-AL", "Housing top shell, Widget-X-Pro", "WX-200", "EN AC-46000", "", "3.40", "500", "7", "2025-01-01"),
        ("AC-7702-GG", "Gearbox cover, machined", "GB-7", "EN-GJL-250", "", "11.60", "200", "9", "2025-01-01"),
        ("AC-7705-GG", "Bearing cap, output side", "GB-7", "EN-GJL-250", "", "3.95", "200", "9", "2025-01-01"),
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    write_text(rel, buf.getvalue(), date, encoding="utf-8-sig", newline="\n")


# ---------------------------------------------------------------------------
# E-mail thread (.eml)
# ---------------------------------------------------------------------------

MAIL = [
    {
        "rel": "inbox/mail/2024-09-24_Acme quote for aluminium housing.eml",
        "id": "<20240924081200.0142a@brightwater.example>",
        "date": datetime(2024, 9, 24, 10, 12, tzinfo=CEST),
        "from": "hb", "to": ["do"], "cc": ["pn"],
        "subject": "CR-2024-0142: Acme quotation for aluminium housing (WX-100)",
        "subject_charset": None,
        "body": (
            "Hi Daniel,\n\n"
            "attached is the quotation from Acme Castings Ltd. (No. 24/0917) for the aluminium\n"
            "version of the Widget X housing, i.e. the change requested in CR-2024-0142.\n\n"
            "Key figures:\n"
            "- tooling EUR 38,500 (2-cavity, per DWG-3310 Rev A, material EN AC-46000)\n"
            "- unit price EUR 2.85 instead of EUR 4.20 for zinc\n"
            "- tool lead time 10 weeks after order\n\n"
            "Could you include this in your review memo? I would like to present the CR at the\n"
            "CCB on 8 October.\n\n"
            "Best regards\nHannah\n\n"
            "-- \nHannah Brandt | Mechanical Design Engineer\nBrightwater Instruments GmbH\n"
        ),
        "attach": True,
        "products": ["WX-100"], "crs": ["CR-2024-0142"], "cites": ["DWG-3310"],
        "what": "mail 1/3: requester sends the supplier quote (attachment = suppliers/Acme_Quotation_24-0917.pdf, same bytes)",
    },
    {
        "rel": "inbox/mail/2024-10-02_Resume_of_review.eml",
        "id": "<20241002154500.0142b@brightwater.example>",
        "date": datetime(2024, 10, 2, 17, 45, tzinfo=CEST),
        "from": "do", "to": ["hb"], "cc": ["pn", "mm", "er"],
        "subject": "R\u00e9sum\u00e9 of review \u2013 CR-2024-0142 (WX-100)",
        "subject_charset": BASE64,
        "body": (
            "Hello Hannah, all,\n\n"
            "here is the r\u00e9sum\u00e9 of my review (full memo in the CCB folder):\n\n"
            "Relevance: high \u2013 weight is the top complaint about the Widget X in the 2024 survey.\n"
            "Risks: porosity at the 1.8 mm walls, galvanic corrosion at the M4 steel inserts, EMC\n"
            "shielding. SPEC-104 Rev B only asks for 96 h salt spray; I propose 240 h for aluminium.\n"
            "Benefits: housing 412 g -> 168 g, EUR 1.35 less per unit.\n"
            "Costs: EUR 38,500 tooling + EUR 6,200 requalification; break-even after approx. 22 months.\n"
            "Recommendation: approve, subject to requalification. If approved I will raise the ECO\n"
            "and we release SPEC-104 Rev C.\n\n"
            "I have put it on the agenda of Tuesday's CCB.\n\n"
            "Daniel\n"
        ),
        "in_reply_to": 0,
        "products": ["WX-100"], "crs": ["CR-2024-0142"], "cites": ["SPEC-104"],
        "what": "mail 2/3: product manager's summary of the review (encoded-word subject)",
    },
    {
        "rel": "inbox/mail/2024-10-03_Re_Resume_of_review.eml",
        "id": "<20241003060500.0142c@brightwater.example>",
        "date": datetime(2024, 10, 3, 8, 5, tzinfo=CEST),
        "from": "pn", "to": ["do"], "cc": ["hb"],
        "subject": "Re: R\u00e9sum\u00e9 of review \u2013 CR-2024-0142 (WX-100)",
        "subject_charset": QP,
        "body": None,   # filled in below: reply + quote of mail 2
        "in_reply_to": 1,
        "products": ["WX-100"], "crs": ["CR-2024-0142"], "cites": ["SPEC-104"],
        "what": "mail 3/3: quality engineer agrees, books the salt-spray chamber (quotes mail 2)",
    },
]
MAIL[2]["body"] = (
    "Daniel,\n\n"
    "agreed. For the requalification I will book the salt-spray chamber for weeks 45\u201346;\n"
    "the drop test can run in parallel. Please add the insulating washers at the inserts\n"
    "to the ECO \u2013 Markus confirmed they fit.\n\n"
    "Priya\n\n"
    "On Wed, 2 Oct 2024 at 17:45, Daniel Okafor wrote:\n"
    + "".join(("> " + line).rstrip() + "\n" for line in MAIL[1]["body"].splitlines())
)


def addr(key: str) -> str:
    p = P[key]
    return formataddr((p.name, p.email), charset="utf-8")


def make_mail(quote_bytes: bytes) -> None:
    for i, m in enumerate(MAIL):
        declare(m["rel"], products=m["products"], crs=m["crs"], cites=m["cites"],
                kind="e-mail (.eml)", date=m["date"].replace(tzinfo=None), what=m["what"])
        body_cs = Charset("utf-8")
        body_cs.body_encoding = QP
        text = MIMENonMultipart("text", "plain")
        if m["body"].isascii():
            text = MIMEText(m["body"], "plain", "us-ascii")
        else:
            text.set_payload(m["body"], body_cs)
        if m.get("attach"):
            msg = MIMEMultipart("mixed", boundary="----=_Part_0142_20240924.4f1a")
            msg.attach(text)
            att = MIMEApplication(quote_bytes, "pdf", name="Acme_Quotation_24-0917.pdf")
            att.add_header("Content-Disposition", "attachment", filename="Acme_Quotation_24-0917.pdf")
            msg.attach(att)
        else:
            msg = text
        msg["Message-ID"] = m["id"]
        if "in_reply_to" in m:
            parent = MAIL[m["in_reply_to"]]
            msg["In-Reply-To"] = parent["id"]
            refs = [MAIL[j]["id"] for j in range(m["in_reply_to"] + 1)]
            msg["References"] = " ".join(refs)
        msg["Date"] = format_datetime(m["date"])
        msg["From"] = addr(m["from"])
        msg["To"] = ", ".join(addr(k) for k in m["to"])
        msg["Cc"] = ", ".join(addr(k) for k in m["cc"])
        if m["subject_charset"] is None:
            msg["Subject"] = m["subject"]
        else:
            cs = Charset("utf-8")
            cs.header_encoding = m["subject_charset"]
            msg["Subject"] = Header(m["subject"], cs)
        msg["Content-Language"] = "en-GB"
        msg["X-Mailer"] = "Brightwater Webmail 5.2"
        # headers in a natural order: move MIME headers to the end
        for h in ("MIME-Version", "Content-Type", "Content-Transfer-Encoding"):
            vals = msg.get_all(h)
            if vals:
                del msg[h]
                for v in vals:
                    msg[h] = v
        buf = io.BytesIO()
        BytesGenerator(buf, mangle_from_=False, maxheaderlen=78).flatten(msg)
        path = out(m["rel"])
        path.write_bytes(buf.getvalue())
        set_mtime(path, m["date"])
        ENTRIES[m["rel"]].text = m["subject"] + "\n" + m["body"]


# ---------------------------------------------------------------------------
# Meeting notes (Markdown, CP1252 text)
# ---------------------------------------------------------------------------

MINUTES_MD = """\
# Change Control Board \u2013 minutes

**Date:** 2024-10-08, 14:00\u201315:30
**Place:** meeting room Elbe / Teams
**Chair:** Elena Rossi
**Present:** Daniel Okafor, Hannah Brandt, Priya Nair, Markus M\u00fcller, Tom\u00e1s Herrera
**Minutes:** Daniel Okafor

## 1. CR-2024-0142 \u2013 housing material zinc \u2192 aluminium (WX-100 Widget X)

Presented by Hannah Brandt; review memo by Daniel Okafor of 30 Sep 2024. Acme Castings Ltd.
quotation 24/0917: tooling EUR 38,500, unit price EUR 2.85 instead of EUR 4.20 (zinc).

- Priya asks for 240 h salt spray instead of the 96 h in SPEC-104 Rev B.
- Markus: the M4 steel inserts need insulating washers; the work instruction will be updated.
- Geometry per DWG-3310 Rev A is unchanged, so the tool can be built from the existing data.

**Decision: APPROVED**, on condition that requalification (drop test, 240 h salt spray, EMC)
is passed before series release. Product management raises the ECO.

## 2. CR-2024-0157 \u2013 USB-C service port (WX-100)

Presented by Tom\u00e1s Herrera. The review recommends rejection: no customer benefit, and the tool
change would delay the housing change above.

**Decision: REJECTED.** Revisit with the next housing redesign.

## 3. CR-2024-0163 \u2013 conformal coating of the main PCB (WX-200 Widget X Pro)

Presented by Priya Nair. Fourteen humidity returns in Q3; coating EUR 0.85 per board.

**Decision: APPROVED (conditional)** \u2013 a pilot lot of 200 units must pass the 85 \u00b0C / 85 % RH
test first. Addendum to SPEC-211 Rev A to follow.

## 4. Any other business

- Nordwind showed its new WX-1000 handheld at the trade fair; marketing will send a comparison.

## Action items

| # | Action | Owner | Due |
|---|--------|-------|-----|
| 1 | Sign the decision record for CR-2024-0142 | Elena Rossi | 2024-10-11 |
| 2 | Raise the ECO for CR-2024-0142 | Daniel Okafor | 2024-10-25 |
| 3 | Order the coating pilot lot for CR-2024-0163 | Priya Nair | 2024-10-31 |
| 4 | Book salt-spray chamber, weeks 45\u201346 | Priya Nair | 2024-10-15 |
"""

NOTES_TXT = """\
CCB notes 11.02.2025  (Caf\u00e9 Lounge, building 2, 10:00-11:15)
Present: E. Rossi (chair), S. Lindqvist, M. M\u00fcller, T. Herrera, P. Nair, D. Okafor
Notes: S. Lindqvist

1) CR-2025-0008  GB-7 Gearbox Seven \u2013 synthetic lubricant ISO VG 150
   Presented by Markus M\u00fcller. Review memo S. Lindqvist of 03.02.2025.
   Oil costs +\u20ac 2,10 per gearbox; endurance test \u20ac 7.400.
   Seal compatibility (NBR) not yet proven. If approved, SPEC-305 Rev D section 5 must be updated.
   Markus: the same oil ran in the old GB-70 series without problems \u2013 but with other seals.
   -> DEFERRED until the 500 h endurance test is finished (expected end of March).

2) CR 2025-0013  second source for the output shaft bearing (GB-7)
   Introduced by Sofia. Review assigned to Priya Nair, due 28.02.2025.

3) Status CR-2024-0163 (WX-200 Widget X Pro, conformal coating)
   Pilot lot of 200 units passed 1.000 h at 85 \u00b0C / 85 % RH. Daniel raises the ECO for series.

4) Status CR-2024-0142 (Widget-X housing)
   Implemented: SPEC-104 Rev C released 20.11.2024, ECO-1123 closed.
   First aluminium housings from lot 2024-47, FAI accepted by Priya. Weight 168 g confirmed.

Next CCB: 11.03.2025
"""


def make_meetings() -> None:
    rel = "inbox/meetings/2024-10-08_CCB_minutes.md"
    date = datetime(2024, 10, 8, 16, 40)
    declare(rel, products=["WX-100", "WX-200"], crs=["CR-2024-0142", "CR-2024-0157", "CR-2024-0163"],
            cites=["SPEC-104", "DWG-3310", "SPEC-211"], kind="meeting minutes (Markdown)", date=date,
            what="CCB 2024-10-08: CR-2024-0142 approved, CR-2024-0157 rejected, CR-2024-0163 approved (conditional)")
    write_text(rel, MINUTES_MD, date)

    rel = "inbox/meetings/2025-02-11 CCB notes.txt"
    date = datetime(2025, 2, 11, 11, 30)
    declare(rel, products=["GB-7", "WX-200", "WX-100"],
            crs=["CR-2025-0008", "CR-2025-0013", "CR-2024-0163", "CR-2024-0142"],
            cites=["SPEC-305", "SPEC-104", "ECO-1123"], kind="meeting notes (plain text, CP1252, CRLF)",
            date=date, what="CCB 2025-02-11: CR-2025-0008 deferred, CR-2025-0013 introduced, status of 0163 and 0142")
    write_text(rel, NOTES_TXT, date, encoding="cp1252", newline="\r\n")


# ---------------------------------------------------------------------------
# Intranet page (HTML)
# ---------------------------------------------------------------------------

def make_intranet() -> None:
    rel = "inbox/intranet/Widget X Pro - product page.html"
    date = datetime(2024, 12, 2, 9, 14)
    declare(rel, products=["WX-200", "WX-100"], crs=["CR-2024-0163", "CR-2024-0171"], cites=["SPEC-211"],
            kind="exported intranet page (HTML)", date=date,
            what="product overview of WX-200 with its open change requests")
    facts = [("Product code", "WX-200"), ("Lifecycle phase", "Series production since 2023-05"),
             ("Product manager", P["do"].name), ("PCB assembly specification", "SPEC-211 Rev A"),
             ("Housing supplier", SUPPLIER)]
    crs = [("CR-2024-0163", "Conformal coating of the main PCB", "approved (conditional), pilot lot running"),
           ("CR-2024-0171", "Firmware: brown-out event logging", "requested, not yet reviewed")]
    visible = ["Brightwater Intranet", "Home \u203a Products \u203a Handheld Devices \u203a Widget X Pro",
               "Widget X Pro (WX-200)",
               "The Widget X Pro is the ruggedised variant of the Widget X (WX-100): pressure sensor port, "
               "optional IP65 outdoor kit and an extended temperature range of \u221220 \u00b0C to +60 \u00b0C.",
               "Key facts", *[x for kv in facts for x in kv], "Open change requests",
               *[x for c in crs for x in c], "Notes",
               "Not compatible with the WX-1000 wall brackets sold by Nordwind.",
               "Last edited 2024-11-28 by Daniel Okafor. Exported 2024-12-02 09:14."]
    v = [escape(s) for s in visible]
    fact_rows = "\n".join(f"      <tr><th>{escape(k)}</th><td>{escape(val)}</td></tr>" for k, val in facts)
    cr_items = "\n".join(f'      <li><a href="/qms/cr/{c[0]}">{escape(c[0])}</a> \u2013 {escape(c[1])}: '
                         f"<em>{escape(c[2])}</em></li>" for c in crs)
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{v[2]} \u2013 {v[0]}</title>
  <style>
    body {{ font-family: Segoe UI, Arial, sans-serif; margin: 2em; color: #222; }}
    nav {{ font-size: 0.85em; color: #666; }}
    table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
  </style>
  <script>window.intranetPage = {{ space: "PROD", pageId: 88213 }};</script>
</head>
<body>
  <header><strong>{v[0]}</strong></header>
  <nav>{v[1]}</nav>
  <main>
    <h1>{v[2]}</h1>
    <p>{v[3]}</p>
    <!-- migrated from the old wiki; obsolete link to CR-2023-0990 removed -->
    <h2>{v[4]}</h2>
    <table>
{fact_rows}
    </table>
    <h2>{escape("Open change requests")}</h2>
    <ul>
{cr_items}
    </ul>
    <h2>Notes</h2>
    <p>{escape(visible[-2])}</p>
  </main>
  <footer><small>{escape(visible[-1])}</small></footer>
</body>
</html>
"""
    write_text(rel, html, date, visible="\n".join(visible))


# ---------------------------------------------------------------------------
# Scans of signed approvals (PNG, image-only PDF)
# ---------------------------------------------------------------------------

A5_300DPI = (1748, 2480)


def scribble(draw: ImageDraw.ImageDraw, rng: random.Random, x0: int, y0: int, width: int) -> None:
    """A handwritten-looking signature: slanted loops of random height, two or three pen strokes."""
    strokes = rng.choice((2, 3))
    cx = float(x0)
    end = x0 + width
    for s in range(strokes):
        pts = []
        for j in range(rng.randint(3, 6)):
            h = rng.uniform(70, 110) if (s == 0 and j == 0) else rng.uniform(18, 62)
            w = rng.uniform(26, 46)
            a = w / (2 * math.pi)
            b = a * rng.uniform(1.2, 1.8)
            for k in range(17):
                phi = 2 * math.pi * k / 16
                y = y0 - h * (1 - math.cos(phi)) / 2 + rng.uniform(-1.5, 1.5)
                x = cx + a * phi - b * math.sin(phi) - 0.35 * (y - y0)
                pts.append((x, y))
            cx += w
            if cx > end:
                break
        draw.line(pts, fill=0, width=rng.choice((4, 5)), joint="curve")
        cx += rng.uniform(18, 40)                      # pen lift
        if cx > end:
            break
    # closing flourish under the name
    fx = min(cx, end)
    draw.line([(x0 - 10, y0 + 22), (x0 + (fx - x0) * 0.45, y0 + 30), (fx + 25, y0 + 8)], fill=0, width=4, joint="curve")


def render_scan(lines: list[tuple], seed: int, rotate: float) -> tuple[Image.Image, str]:
    rng = random.Random(seed)
    W, H = A5_300DPI
    img = Image.new("L", (W, H), 255)
    d = ImageDraw.Draw(img)
    f = {
        "head": ImageFont.truetype(str(FONT_BOLD), 58),
        "sub": ImageFont.truetype(str(FONT), 44),
        "label": ImageFont.truetype(str(FONT_BOLD), 42),
        "text": ImageFont.truetype(str(FONT), 42),
        "small": ImageFont.truetype(str(FONT), 32),
        "stamp": ImageFont.truetype(str(FONT_BOLD), 120),
    }
    written = []
    x, y = 190, 170
    for item in lines:
        kind = item[0]
        if kind == "head":
            d.text((x, y), item[1], font=f["head"], fill=0)
            y += 82
        elif kind == "sub":
            d.text((x, y), item[1], font=f["sub"], fill=0)
            y += 64
        elif kind == "rule":
            d.line([(x, y + 10), (W - 150, y + 10)], fill=0, width=4)
            y += 50
        elif kind == "field":
            d.text((x, y), item[1], font=f["label"], fill=0)
            d.text((x + 430, y), item[2], font=f["text"], fill=0)
            y += 66
        elif kind == "text":
            d.text((x + 430, y), item[1], font=f["text"], fill=0)
            y += 60
        elif kind == "stamp":
            bbox = d.textbbox((0, 0), item[1], font=f["stamp"])
            tw, th = bbox[2] - bbox[0], bbox[3] - bbox[1]
            sx = (W - tw) // 2
            d.rectangle([sx - 50, y, sx + tw + 50, y + th + 90], outline=0, width=9)
            d.rectangle([sx - 34, y + 16, sx + tw + 34, y + th + 74], outline=0, width=3)
            d.text((sx, y + 45 - bbox[1]), item[1], font=f["stamp"], fill=0)
            y += th + 150
        elif kind == "sign":
            d.text((x, y), item[1], font=f["label"], fill=0)
            y += 70
            scribble(d, rng, x + 140, y + 95, 520)
            d.line([(x + 60, y + 110), (x + 900, y + 110)], fill=0, width=2)
            d.text((x + 960, y + 70), item[2], font=f["text"], fill=0)
            y += 170
        elif kind == "small":
            d.text((x, H - 190), item[1], font=f["small"], fill=0)
        elif kind == "space":
            y += item[1]
        written.extend(str(s) for s in item[1:] if isinstance(s, str))
    # two punched holes at the left edge (the original lives in a binder)
    for hy in (H // 2 - 480, H // 2 + 480):
        d.ellipse([38, hy - 36, 110, hy + 36], fill=40)
    # scanner softness, skew, speckles, then 1-bit like a black-and-white scanner
    img = img.filter(ImageFilter.GaussianBlur(1.1))
    if rotate:
        img = img.rotate(rotate, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    px = img.load()
    for _ in range(1100):
        cx, cy = rng.randrange(W), rng.randrange(H)
        r = rng.choice((0, 0, 0, 0, 1, 1, 2))
        for dx in range(-r, r + 1):
            for dy in range(-r, r + 1):
                if 0 <= cx + dx < W and 0 <= cy + dy < H:
                    px[cx + dx, cy + dy] = min(px[cx + dx, cy + dy], rng.randrange(0, 150))
    # a faint grey streak along the right edge (lid shadow)
    for yy in range(H):
        for xx in range(W - 14, W):
            if rng.random() < 0.55:
                px[xx, yy] = 60
    bw = img.point(lambda v: 255 if v > 150 else 0).convert("1", dither=Image.Dither.NONE)
    return bw, "\n".join(written)


def make_scans() -> None:
    # 1) PNG: signed CCB decision record for CR-2024-0142, skewed by 1.5 degrees
    rel = "inbox/scans/SCAN_20241010_0931.png"
    date = datetime(2024, 10, 10, 9, 31)
    declare(rel, products=["WX-100"], crs=["CR-2024-0142"], cites=["SPEC-104"],
            kind="scanned signed approval (PNG, 300 dpi, 1-bit, skewed 1.5\u00b0)", date=date,
            what="signed CCB decision record: CR-2024-0142 APPROVED", ocr_only=True)
    img, text = render_scan([
        ("head", COMPANY),
        ("sub", "Change Control Board \u2013 Decision Record"),
        ("rule",),
        ("field", "Change request:", "CR-2024-0142"),
        ("field", "Product:", "WX-100 Widget X"),
        ("field", "Subject:", "Housing material zinc to aluminium"),
        ("field", "CCB meeting:", "8 Oct 2024"),
        ("field", "Decision:", "APPROVED"),
        ("field", "Condition:", "Requalification per SPEC-104"),
        ("text", "(240 h salt spray) before series release."),
        ("field", "Date:", "10 Oct 2024"),
        ("space", 40),
        ("stamp", "APPROVED"),
        ("sign", "Signed: Elena Rossi, Head of Engineering", "10.10.2024"),
        ("sign", "Signed: Daniel Okafor, Product Manager", "10.10.2024"),
        ("small", "Form QF-09 rev 2 \u2013 original filed in the CCB binder 2024"),
    ], seed=142, rotate=1.5)
    path = out(rel)
    img.save(path, "PNG", optimize=True, dpi=(300, 300))
    set_mtime(path, date)
    ENTRIES[rel].text = text

    # 2) Image-only PDF: signed decision record for CR-2024-0163 (no text layer)
    rel = "inbox/scans/SCAN_20241105_1412.pdf"
    date = datetime(2024, 11, 5, 14, 12)
    declare(rel, products=["WX-200"], crs=["CR-2024-0163"], cites=["SPEC-211"],
            kind="scanned signed approval (image-only PDF, 300 dpi, 1-bit CCITT G4)", date=date,
            what="signed CCB decision record: CR-2024-0163 APPROVED (conditional)", ocr_only=True)
    img, text = render_scan([
        ("head", COMPANY),
        ("sub", "Change Control Board \u2013 Decision Record"),
        ("rule",),
        ("field", "Change request:", "CR-2024-0163"),
        ("field", "Product:", "WX-200 Widget X Pro"),
        ("field", "Subject:", "Conformal coating, main PCB"),
        ("field", "CCB meeting:", "8 Oct 2024"),
        ("field", "Decision:", "APPROVED (conditional)"),
        ("field", "Condition:", "Pilot lot of 200 units passes"),
        ("text", "85 \u00b0C / 85 % RH test; addendum"),
        ("text", "to SPEC-211 Rev A."),
        ("field", "Date:", "5 Nov 2024"),
        ("space", 40),
        ("stamp", "APPROVED"),
        ("sign", "Signed: Elena Rossi, Head of Engineering", "05.11.2024"),
        ("sign", "Signed: Priya Nair, Quality Engineer", "05.11.2024"),
        ("small", "Form QF-09 rev 2 \u2013 original filed in the CCB binder 2024"),
    ], seed=163, rotate=0)
    path = out(rel)
    stamp = utc(date).timetuple()
    img.save(path, "PDF", resolution=300, title="SCAN_20241105_1412", author="MFP-2OG-East",
             creator="ScanStation 4.1", producer="ScanStation 4.1 PDF", creationDate=stamp, modDate=stamp)
    set_mtime(path, date)
    ENTRIES[rel].text = text


# ---------------------------------------------------------------------------
# Lifecycle (for the README)
# ---------------------------------------------------------------------------

LIFECYCLE = [
    ("CR-2024-0142", "WX-100", [
        ("requested", CR_FILES["CR-2024-0142"]),
        ("reviewed", "inbox/change-requests/review_CR-2024-0142_final.pdf and the review summary mails inbox/mail/2024-10-02_Resume_of_review.eml, inbox/mail/2024-10-03_Re_Resume_of_review.eml (inputs to the review: inbox/suppliers/Acme_Quotation_24-0917.pdf and the mail that sent it)"),
        ("presented", "inbox/meetings/2024-10-08_CCB_minutes.md (approved)"),
        ("approved", "inbox/scans/SCAN_20241010_0931.png (signed decision record)"),
        ("authorised", "inbox/change-requests/ECO-1123.pdf"),
        ("implemented", "inbox/specs/SPEC-104_RevC.pdf (Rev B is the state before); confirmed in inbox/meetings/2025-02-11 CCB notes.txt"),
    ]),
    ("CR-2024-0157", "WX-100", [
        ("requested", CR_FILES["CR-2024-0157"] + " (the Decision row was later filled in: rejected)"),
        ("reviewed", "inbox/change-requests/review memo 0157.pdf (recommends rejection)"),
        ("presented / rejected", "inbox/meetings/2024-10-08_CCB_minutes.md"),
    ]),
    ("CR-2024-0163", "WX-200", [
        ("requested", CR_FILES["CR-2024-0163"]),
        ("reviewed", "inbox/change-requests/CR-2024-0163_review.pdf"),
        ("presented", "inbox/meetings/2024-10-08_CCB_minutes.md (approved, conditional)"),
        ("approved", "inbox/scans/SCAN_20241105_1412.pdf (signed decision record, image only)"),
        ("pilot passed, ECO pending", "inbox/meetings/2025-02-11 CCB notes.txt; not yet authorised"),
    ]),
    ("CR-2024-0171", "WX-200", [
        ("requested", CR_FILES["CR-2024-0171"] + "; listed on inbox/intranet/Widget X Pro - product page.html"),
    ]),
    ("CR-2025-0008", "GB-7", [
        ("requested", CR_FILES["CR-2025-0008"]),
        ("reviewed", "inbox/change-requests/CR-2025-0008_review_memo.pdf (recommends deferral)"),
        ("presented / deferred", "inbox/meetings/2025-02-11 CCB notes.txt"),
    ]),
    ("CR-2025-0013", "GB-7", [
        ("requested", CR_FILES["CR-2025-0013"]),
        ("introduced, review assigned", "inbox/meetings/2025-02-11 CCB notes.txt (written there as \"CR 2025-0013\")"),
    ]),
]


def write_products_toml() -> None:
    parts = []
    for p in PRODUCTS:
        aliases = ", ".join(f'"{a}"' for a in p["aliases"])
        parts.append(f'[[products]]\ncode = "{p["code"]}"\nname = "{p["name"]}"\naliases = [{aliases}]\n')
    (HERE / "products.toml").write_text("\n".join(parts), encoding="utf-8")


def truth_json() -> dict:
    return {rel: {"products": e.products, "change_requests": e.change_requests,
                  "doc_number": e.doc_number, "revision": e.revision, "cites": e.cites}
            for rel, e in sorted(ENTRIES.items())}


def write_readme() -> None:
    def cell(xs):
        return ", ".join(xs) if xs else "\u2013"

    lines = [
        "# Sample archive",
        "",
        "A fictional product coordinator's inbox for demos and tests of `archiver`.",
        "Everything under `inbox/` is generated by `make_samples.py` (deterministic: rerun it",
        "to get byte-identical files; it also rewrites this README, `products.toml` and `truth.json`).",
        "",
        "    .venv/bin/python sample_archive/make_samples.py",
        "",
        "## Products (`products.toml`)",
        "",
        "| Code | Name | Aliases |",
        "|------|------|---------|",
        *[f"| {p['code']} | {p['name']} | {', '.join(p['aliases'])} |" for p in PRODUCTS],
        "",
        "Look-alike traps that must **not** be recognised: `WX-1000` (a competitor's handheld, in the",
        "2024-10-08 minutes and the intranet page), `GB-70` (old predecessor series, 2025-02-11 notes),",
        "`Widget X Pro` / `Widget-X-Pro` (WX-200 only, although they contain `Widget X` / `Widget-X`),",
        "supplier part numbers such as `AC-3310-AL` (not DWG-3310), and `CR-2023-0990`, which",
        "appears only inside an HTML comment of the intranet page (not visible text).",
        "",
        "## Change requests",
        "",
        "| CR | Product | Title | Outcome so far |",
        "|----|---------|-------|----------------|",
        "| CR-2024-0142 | WX-100 | " + CRS["CR-2024-0142"]["title"] + " | approved, authorised (ECO-1123), implemented (SPEC-104 Rev C) |",
        "| CR-2024-0157 | WX-100 | " + CRS["CR-2024-0157"]["title"] + " | rejected |",
        "| CR-2024-0163 | WX-200 | " + CRS["CR-2024-0163"]["title"] + " | approved (conditional), pilot passed, ECO pending |",
        "| CR-2024-0171 | WX-200 | " + CRS["CR-2024-0171"]["title"] + " | requested |",
        "| CR-2025-0008 | GB-7 | " + CRS["CR-2025-0008"]["title"] + " | reviewed, deferred |",
        "| CR-2025-0013 | GB-7 | " + CRS["CR-2025-0013"]["title"] + " | requested, review assigned |",
        "",
        "Other document numbers: SPEC-104 (housing spec of WX-100; Rev B and Rev C in `inbox/specs/`),",
        "DWG-3310 Rev A (housing drawing; cited only, no file), ECO-1123 (authorises CR-2024-0142),",
        "SPEC-211 Rev A (WX-200 PCB assembly spec; cited only), SPEC-305 Rev D (GB-7 lubrication spec; cited only).",
        "",
        "## Lifecycle: which document shows which step",
        "",
        "| CR | Step | Document(s) |",
        "|----|------|-------------|",
        *[f"| {cr} ({prod}) | {step} | {docs} |" for cr, prod, steps in LIFECYCLE for step, docs in steps],
        "",
        "## Special files",
        "",
        "- `inbox/suppliers/quote-truncated.pdf` is a PDF cut in half on purpose: ingest must reject it.",
        "- The first mail carries `Acme_Quotation_24-0917.pdf` as an attachment, byte-identical to",
        "  `inbox/suppliers/Acme_Quotation_24-0917.pdf` (a duplicate by SHA-256). Mails 2 and 3 have",
        "  RFC 2047 encoded subjects (UTF-8, B and Q encoding) and an encoded `Markus M\u00fcller` in Cc;",
        "  mail 3 quotes mail 2, so it mentions what mail 2 mentions.",
        "- `inbox/meetings/2025-02-11 CCB notes.txt` is CP1252 with CRLF line ends (`\u20ac`, `\u00fc`, `\u00e9`, `\u00e1`, `\u00b0`)",
        "  and writes one CR id as `CR 2025-0013` (space instead of hyphen).",
        "- `inbox/suppliers/acme_pricelist_2025.csv` is UTF-8 with a BOM and CRLF line ends.",
        "- The two files in `inbox/scans/` have no text layer: their text is only found by OCR.",
        "  `SCAN_20241010_0931.png` is skewed by 1.5\u00b0. Their truth rows list what is printed on them.",
        "- File mtimes are set to each document's own date.",
        "",
        "## Truth table",
        "",
        "Machine-readable in `truth.json` (keys are paths relative to this folder). `doc_number` and",
        "`revision` are the controlled-document identity of the file itself (SPEC-/DWG-/ECO-); `cites`",
        "lists the other document numbers it mentions. CR ids are canonical `CR-YYYY-NNNN`.",
        "",
        "| File | Products | Change requests | Doc number | Cites | What it is |",
        "|------|----------|-----------------|------------|-------|------------|",
    ]
    for rel, e in sorted(ENTRIES.items()):
        docno = f"{e.doc_number} Rev {e.revision}" if e.revision else (e.doc_number or "\u2013")
        lines.append(f"| `{rel}` | {cell(e.products)} | {cell(e.change_requests)} | {docno} | "
                     f"{cell(e.cites)} | {e.what} |")
    (HERE / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------
# Read-back verification
# ---------------------------------------------------------------------------

class _Visible(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def read_back(rel: str) -> str:
    import email
    from email import policy

    path = HERE / rel
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        r = pypdf.PdfReader(path)
        meta = r.metadata or {}
        return "\n".join([*(str(meta.get(k, "")) for k in ("/Title", "/Author", "/Subject", "/Keywords")),
                          *(p.extract_text() for p in r.pages)])
    if suffix == ".docx":
        d = docx.Document(path)
        parts = [d.core_properties.title or "", d.core_properties.keywords or ""]
        parts += [p.text for p in d.paragraphs]
        parts += [c.text for t in d.tables for row in t.rows for c in row.cells]
        parts += [p.text for s in d.sections for p in (*s.header.paragraphs, *s.footer.paragraphs)]
        return "\n".join(parts)
    if suffix == ".eml":
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        body = msg.get_body(("plain",))
        return str(msg["subject"]) + "\n" + body.get_content()
    if suffix == ".html":
        v = _Visible()
        v.feed(path.read_text(encoding="utf-8"))
        return "\n".join(v.parts)
    if suffix == ".txt":
        return path.read_bytes().decode("cp1252")
    if suffix == ".csv":
        return path.read_text(encoding="utf-8-sig")
    return path.read_text(encoding="utf-8")


def verify() -> None:
    for rel, e in sorted(ENTRIES.items()):
        path = HERE / rel
        assert path.is_file(), rel
        if e.expect_reject:
            logging.getLogger("pypdf").setLevel(logging.CRITICAL)   # its "EOF marker not found" is expected here
            try:
                r = pypdf.PdfReader(path, strict=False)
                text = "".join(p.extract_text() for p in r.pages)
            except Exception:
                continue
            raise SystemExit(f"{rel} was meant to be unreadable but pypdf read {len(text)} chars")
        check(rel, e.text, "as written")
        if e.ocr_only:
            if path.suffix == ".pdf":
                r = pypdf.PdfReader(path)
                assert not "".join(p.extract_text() for p in r.pages).strip(), f"{rel} has a text layer"
            continue
        check(rel, read_back(rel), "read back")


def main() -> int:
    if INBOX.exists():
        shutil.rmtree(INBOX)
    for cr_id in CRS:
        make_cr_form(cr_id)
    make_memos()
    make_eco()
    make_spec("B")
    make_spec("C")
    quote = make_quotes()
    make_pricelist()
    make_mail(quote)
    make_meetings()
    make_intranet()
    make_scans()

    write_products_toml()
    (HERE / "truth.json").write_text(json.dumps(truth_json(), indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    write_readme()
    verify()
    total = sum(p.stat().st_size for p in INBOX.rglob("*") if p.is_file())
    print(f"wrote {len(ENTRIES)} files under {INBOX.relative_to(HERE.parent)} ({total / 1024:.0f} KiB); truth verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
