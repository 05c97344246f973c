"""Build test inputs (PDF, DOCX, e-mail, text, scanned-page images) in a given folder."""
from __future__ import annotations

import base64
import io
import random
import re
import struct
import zipfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import docx
import fpdf
from docx.oxml import parse_xml
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfWriter
from pypdf.xmp import XmpInformation

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

# ---------------------------------------------------------------- PDF


def pdf_date(moment: datetime) -> str:
    """Format a datetime as a PDF date string, e.g. ``D:20230412101500+02'00'``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    offset = moment.strftime("%z") or "+0000"
    return moment.strftime("D:%Y%m%d%H%M%S") + f"{offset[:3]}'{offset[3:]}'"


def _pdf_bytes(pages: Sequence[str]) -> bytes:
    """Lay out one page per string with fpdf2; an empty string gives a page without text."""
    pdf = fpdf.FPDF()
    unicode = any(not _latin1(text) for text in pages)
    if unicode and DEJAVU.exists():
        pdf.add_font("DejaVu", fname=str(DEJAVU))
        pdf.set_font("DejaVu", size=12)
    else:
        pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def make_pdf(
    path: Path,
    pages: Sequence[str],
    *,
    title: str | None = None,
    author: str | None = None,
    subject: str | None = None,
    keywords: str | None = None,
    created: datetime | None = None,
    modified: datetime | None = None,
    info: dict[str, str] | None = None,
    xmp: dict[str, Any] | bytes | None = None,
    encrypt: str | tuple[str, str] | None = None,
) -> Path:
    """Write a PDF with one page of text per string and chosen metadata.

    Args:
        path: Where to write.
        pages: The text of each page ("" for a page without a text layer).
        title, author, subject, keywords, created, modified: The document information entries.
        info: Raw extra entries, e.g. ``{"/CreationDate": "D:junk"}``.
        xmp: XMP fields (title, creator, description, keywords, create_date, modify_date)
            or a raw XMP packet.
        encrypt: None; a user password (AES-256); or ``(user_password, algorithm)`` with
            algorithm "RC4-40", "RC4-128", "AES-128" or "AES-256". The owner password differs.
    """
    writer = PdfWriter(clone_from=io.BytesIO(_pdf_bytes(pages)))
    entries = {"/Title": title, "/Author": author, "/Subject": subject, "/Keywords": keywords,
               "/CreationDate": pdf_date(created) if created else None,
               "/ModDate": pdf_date(modified) if modified else None, **(info or {})}
    writer.metadata = {key: value for key, value in entries.items() if value is not None}
    if xmp is not None:
        writer.xmp_metadata = xmp if isinstance(xmp, bytes) else _xmp(xmp)
    if encrypt is not None:
        user, algorithm = (encrypt, "AES-256") if isinstance(encrypt, str) else encrypt
        writer.encrypt(user_password=user, owner_password="owner-secret", algorithm=algorithm)
    path = Path(path)
    with path.open("wb") as out:
        writer.write(out)
    return path


def _xmp(fields: dict[str, Any]) -> XmpInformation:
    xmp = XmpInformation.create()
    if "title" in fields:
        xmp.dc_title = {"x-default": fields["title"]}
    if "creator" in fields:
        xmp.dc_creator = list(fields["creator"])
    if "description" in fields:
        xmp.dc_description = {"x-default": fields["description"]}
    if "keywords" in fields:
        xmp.pdf_keywords = fields["keywords"]
    if "create_date" in fields:
        xmp.xmp_create_date = fields["create_date"]
    if "modify_date" in fields:
        xmp.xmp_modify_date = fields["modify_date"]
    return xmp


def xmp_packet(body: str) -> bytes:
    """Wrap rdf:Description content in a minimal XMP packet (for malformed-value tests)."""
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">'
        f"{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="r"?>'
    ).encode("utf-8")


def make_image_only_pdf(path: Path, image: Image.Image) -> Path:
    """Write a PDF whose single page is an image and has no text layer (a scan)."""
    path = Path(path)
    image.save(path, "PDF", resolution=300)
    return path


# ---------------------------------------------------------------- DOCX

_TEXT_BOX = """
<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"
     xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"
     xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
     xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"
     xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
     xmlns:v="urn:schemas-microsoft-com:vml">
  <mc:AlternateContent>
    <mc:Choice Requires="wps"><w:drawing><wp:anchor><wp:extent cx="1828800" cy="457200"/>
      <a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">
        <wps:wsp><wps:txbx><w:txbxContent>{paragraphs}</w:txbxContent></wps:txbx></wps:wsp>
      </a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>
    <mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent>{paragraphs}</w:txbxContent>
      </v:textbox></v:shape></w:pict></mc:Fallback>
  </mc:AlternateContent>
</w:r>"""

_CONTENT_CONTROL = """
<w:sdt xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
  <w:sdtPr><w:alias w:val="Reference"/></w:sdtPr>
  <w:sdtContent>{paragraphs}</w:sdtContent>
</w:sdt>"""


def _xml_paragraph(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<w:p><w:r><w:t xml:space="preserve">{escaped}</w:t></w:r></w:p>'


def make_docx(
    path: Path,
    paragraphs: Sequence[str] = (),
    *,
    table: Sequence[Sequence[str]] | None = None,
    merge: Sequence[tuple[tuple[int, int], tuple[int, int]]] = (),
    header: str | None = None,
    footer: str | None = None,
    text_box: str | None = None,
    content_control: str | None = None,
    core: dict[str, Any] | None = None,
    with_core_part: bool = True,
) -> Path:
    """Write a DOCX with python-docx.

    Args:
        path: Where to write.
        paragraphs: Body paragraphs, in order.
        table: Rows of cell texts, added after the paragraphs.
        merge: Cell ranges to merge, e.g. ``[((0, 0), (0, 1))]`` for a horizontal merge.
        header, footer: Text of the first section's header and footer.
        text_box: Text of a text box anchored in its own paragraph ("Anchor"), written the
            way Word does: a DrawingML shape with a VML fallback holding the same text.
        content_control: Text of a block-level content control (w:sdt).
        core: Core properties to set (title, author, subject, keywords, created, modified,
            revision, last_modified_by, ...).
        with_core_part: False to remove docProps/core.xml from the package.
    """
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table is not None:
        _add_table(document, table, merge)
    if text_box is not None:
        _add_text_box(document, text_box)
    if content_control is not None:
        _add_content_control(document, content_control)
    if header is not None:
        document.sections[0].header.paragraphs[0].text = header
    if footer is not None:
        document.sections[0].footer.paragraphs[0].text = footer
    for name, value in (core or {}).items():
        setattr(document.core_properties, name, value)
    path = Path(path)
    document.save(str(path))
    if not with_core_part:
        _drop_core_part(path)
    return path


def _add_text_box(document: Any, text: str) -> None:
    anchor = document.add_paragraph("Anchor")
    anchor._p.append(parse_xml(_TEXT_BOX.format(paragraphs=_xml_paragraph(text))))


def _add_content_control(document: Any, text: str) -> None:
    placeholder = document.add_paragraph()._p
    control = parse_xml(_CONTENT_CONTROL.format(paragraphs=_xml_paragraph(text)))
    placeholder.getparent().replace(placeholder, control)


def _add_table(document: Any, rows: Sequence[Sequence[str]], merge: Sequence) -> None:
    table = document.add_table(rows=len(rows), cols=max(len(r) for r in rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    for (r1, c1), (r2, c2) in merge:
        table.cell(r1, c1).merge(table.cell(r2, c2))


def _drop_core_part(path: Path) -> None:
    """Rewrite the package without docProps/core.xml, its relationship and content type."""
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    members.pop("docProps/core.xml", None)
    members["_rels/.rels"] = re.sub(
        rb"<Relationship [^>]*core-properties[^>]*/>", b"", members["_rels/.rels"])
    members["[Content_Types].xml"] = re.sub(
        rb'<Override PartName="/docProps/core.xml"[^>]*/>', b"", members["[Content_Types].xml"])
    write_zip(path, members)


def forge_declared_size(path: Path, name: str, size: int) -> Path:
    """Make one zip member lie about its uncompressed size (local header and central directory)."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo(name).header_offset
    data[offset + 22: offset + 26] = struct.pack("<I", size)
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46: position + 46 + name_length] == name.encode():
            data[position + 24: position + 28] = struct.pack("<I", size)
        position = data.find(b"PK\x01\x02", position + 46)
    path.write_bytes(bytes(data))
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    """Write a deflated zip of the given members (for hand-made or broken packages)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return Path(path)


# ---------------------------------------------------------------- e-mail


def make_eml(
    path: Path,
    *,
    subject: str = "Status report",
    from_: str = "Alice Example <alice@example.com>",
    to: Sequence[str] = ("Bob Example <bob@example.com>",),
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    date: str | None = "Wed, 12 Apr 2023 10:15:00 +0200",
    message_id: str | None = "<report-1@example.com>",
    in_reply_to: str | None = None,
    references: str | None = None,
    body: str | None = "Hello Bob,\nthe report is attached.\n",
    body_bytes: bytes | None = None,
    charset: str = "utf-8",
    html: str | None = None,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Path:
    """Write an RFC 822 message byte by byte, so that tests control every header as written.

    Header values are written as given (RFC 2047 words, raw 8-bit UTF-8, junk).
    The body is ``body`` encoded in ``charset`` (or ``body_bytes`` as is) sent as
    8bit; ``html`` adds an HTML alternative (or is the only body if ``body`` is None).
    Attachments are (filename, data, content type), base64-encoded.
    """
    headers = [("From", from_), ("To", ", ".join(to)), ("Cc", ", ".join(cc)), ("Bcc", ", ".join(bcc)),
               ("Date", date), ("Subject", subject), ("Message-ID", message_id),
               ("In-Reply-To", in_reply_to), ("References", references), *extra_headers]
    lines = [f"{name}: {value}" for name, value in headers if value]
    lines.append("MIME-Version: 1.0")
    text = body_bytes if body_bytes is not None else (body.encode(charset) if body is not None else None)
    content = _mime_body(text, charset, html, attachments)
    data = ("\r\n".join(lines) + "\r\n").encode("utf-8") + content
    path = Path(path)
    path.write_bytes(data)
    return path


def _leaf(content_type: str, data: bytes, charset: str | None = None) -> bytes:
    params = f"; charset={charset}" if charset else ""
    return (f"Content-Type: {content_type}{params}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            .encode("ascii") + data)


def _multipart(subtype: str, parts: list[bytes], boundary: str) -> bytes:
    out = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode("ascii")
    for part in parts:
        out += f"--{boundary}\r\n".encode("ascii") + part + b"\r\n"
    return out + f"--{boundary}--\r\n".encode("ascii")


def _mime_body(text: bytes | None, charset: str, html: str | None,
               attachments: Sequence[tuple[str, bytes, str]]) -> bytes:
    leaves = []
    if text is not None:
        leaves.append(_leaf("text/plain", text, charset))
    if html is not None:
        leaves.append(_leaf("text/html", html.encode("utf-8"), "utf-8"))
    main = _multipart("alternative", leaves, "alt-boundary") if len(leaves) > 1 else leaves[0]
    if not attachments:
        return main
    parts = [main]
    for name, data, content_type in attachments:
        encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
        parts.append(
            f'Content-Type: {content_type}\r\nContent-Disposition: attachment; filename="{name}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n".encode("utf-8") + encoded)
    return _multipart("mixed", parts, "mixed-boundary")


# ---------------------------------------------------------------- text and images


def make_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write text in an encoding ("utf-8-sig" and "utf-16" write a byte-order mark)."""
    path = Path(path)
    path.write_bytes(text.encode(encoding))
    return path


def scan_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Return DejaVuSans at a pixel size, or Pillow's built-in font if it is missing."""
    if DEJAVU.exists():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size=size)


def render_scan(
    text_lines: Sequence[str],
    size: tuple[int, int] = (2480, 3508),
    dpi: int = 300,
    angle: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
) -> Image.Image:
    """Render lines of text as a greyscale page scan (A4 at 300 dpi by default).

    Text is ~12 pt (50 px at 300 dpi, scaled with ``dpi``). ``angle`` rotates the page
    counter-clockwise in degrees; ``noise`` (0..1) is the share of pixels turned to
    salt-and-pepper noise, reproducible through ``seed``.
    """
    font_px = round(50 * dpi / 300)
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    x, y = round(size[0] * 0.08), round(size[1] * 0.07)
    for line in text_lines:
        draw.text((x, y), line, fill=0, font=scan_font(font_px))
        y += round(font_px * 1.5)
    if angle:
        image = image.rotate(angle, resample=Image.BICUBIC, fillcolor=255)
    if noise > 0:
        image = _salt_and_pepper(image, noise, seed)
    image.info["dpi"] = (dpi, dpi)
    return image


def _salt_and_pepper(image: Image.Image, noise: float, seed: int) -> Image.Image:
    rng = random.Random(seed)
    randoms = Image.frombytes("L", image.size, rng.randbytes(image.size[0] * image.size[1]))
    cut = round(255 * min(noise, 1.0) / 2)
    image.paste(0, mask=randoms.point(lambda v: 255 if v < cut else 0))
    image.paste(255, mask=randoms.point(lambda v: 255 if v > 255 - cut else 0))
    return image
