"""Decide a file's format from its content (magic bytes), never from its name.

Binary signatures come from puremagic (a maintained, pure-Python magic-number
database), which also names formats we do not read, so a reject can say what
the file really is. Text formats have no magic: they are told apart by
content, and the extension only breaks ties inside the text family (a ``.csv``
that parses as CSV is CSV; a ``.md`` is Markdown).
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import BinaryIO

import puremagic

from archiver.records import Sniffed

HEAD_BYTES = 8192

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_IMAGE_MIMES = {
    "image/png": "PNG image", "image/jpeg": "JPEG image", "image/tiff": "TIFF image",
    "image/gif": "GIF image", "image/bmp": "BMP image", "image/webp": "WebP image",
}
_MIME_ALIASES = {"image/x-ms-bmp": "image/bmp", "image/x-bmp": "image/bmp", "image/jpg": "image/jpeg",
                 "image/pjpeg": "image/jpeg", "image/x-tiff": "image/tiff"}
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_MAIL_HEADERS = {
    "from", "to", "cc", "subject", "date", "message-id", "received", "return-path",
    "mime-version", "content-type", "reply-to", "in-reply-to", "references", "delivered-to",
    "x-mailer", "sender", "user-agent",
}
_HEADER_LINE = re.compile(rb"^([A-Za-z][A-Za-z0-9-]*):[ \t]?")


def sniff(path: Path) -> Sniffed:
    """Return the format of the file at ``path`` judged by its content."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    return sniff_bytes(head, path)


def sniff_bytes(head: bytes, path: Path | None = None) -> Sniffed:
    """Return the format of content starting with ``head`` (``path`` gives zip access and tie-breaks)."""
    return _classify(head, path.suffix.lower() if path is not None else "", path)


def sniff_data(data: bytes, name: str = "") -> Sniffed:
    """Return the format of content held in memory (an e-mail attachment); ``name`` only breaks ties."""
    return _classify(data[:HEAD_BYTES], Path(name).suffix.lower(), io.BytesIO(data))


def _classify(head: bytes, suffix: str, source: Path | BinaryIO | None) -> Sniffed:
    """Return the format of content starting with ``head``; ``source`` is the whole content, for zips."""
    if not head:
        return Sniffed("empty", "application/x-empty", "an empty file")
    if b"%PDF-" in head[:1024]:
        return Sniffed("pdf", "application/pdf", "PDF document")
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(source, suffix)
    if _is_mail(head):
        # Before the binary check: a raw NUL in a header or body must not hide an e-mail.
        return Sniffed("email", "message/rfc822", "an e-mail message")
    if not head.startswith(_BOMS) and not _looks_like_utf16(head):
        binary = _sniff_binary(head)
        if binary is not None:
            return binary
    if _is_binary(head):
        return Sniffed("unknown", "application/octet-stream", "binary data of unknown format")
    return _sniff_text(head, suffix)


def _sniff_binary(head: bytes) -> Sniffed | None:
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Sniffed("unknown", "application/x-ole-storage",
                       "a legacy Microsoft Office (OLE2: .doc/.xls/.msg) file")
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    for m in matches:
        mime = _MIME_ALIASES.get(m.mime_type, m.mime_type)
        if mime in _IMAGE_MIMES:
            return Sniffed("image", mime, _IMAGE_MIMES[mime])
    strong = [m for m in matches if len(m.byte_match) >= 3 and m.offset < 64]
    if strong and _is_binary(head):
        m = strong[0]
        return Sniffed("unknown", m.mime_type or "application/octet-stream",
                       m.name or "binary data")
    return None


def _sniff_zip(source: Path | BinaryIO | None, suffix: str) -> Sniffed:
    if source is not None:
        try:
            with zipfile.ZipFile(source) as zf:
                names = set(zf.namelist())
        except Exception:  # noqa: BLE001 - zipfile raises BadZipFile, NotImplementedError, EOFError, ...
            # A damaged .docx goes to the DOCX extractor, which names what is wrong with it.
            return Sniffed("docx", DOCX_MIME, "a damaged ZIP archive") if suffix == ".docx" \
                else Sniffed("unknown", "application/zip", "a damaged ZIP archive")
        if "word/document.xml" in names:
            return Sniffed("docx", DOCX_MIME, "Word document (DOCX)")
        if "xl/workbook.xml" in names:
            return Sniffed("unknown", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           "an Excel workbook (XLSX)")
        if "[Content_Types].xml" in names or "ppt/presentation.xml" in names:
            return Sniffed("unknown", "application/zip", "an Office document other than DOCX")
    return Sniffed("unknown", "application/zip", "a ZIP archive")


def _looks_like_utf16(head: bytes) -> bool:
    sample = head[:512]
    if len(sample) < 4:
        return False
    odd_nuls = sample[1::2].count(0) / max(1, len(sample[1::2]))
    even_nuls = sample[0::2].count(0) / max(1, len(sample[0::2]))
    # ASCII-heavy UTF-16 has NULs in every other byte and almost none in the rest.
    return (odd_nuls > 0.4 and even_nuls < 0.05) or (even_nuls > 0.4 and odd_nuls < 0.05)


def _is_binary(head: bytes) -> bool:
    if head.startswith(_BOMS) or _looks_like_utf16(head):
        return False
    sample = head[:4096]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls / len(sample) > 0.05


def _decode_head(head: bytes) -> str:
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16-le"),
                       (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, errors="ignore")
    if _looks_like_utf16(head):
        codec = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        return head.decode(codec, errors="ignore")
    return head.decode("utf-8", errors="ignore") or head.decode("latin-1")


def _sniff_text(head: bytes, suffix: str) -> Sniffed:
    text = _decode_head(head)
    if _is_mail(head):
        return Sniffed("email", "message/rfc822", "an e-mail message")
    start = text.lstrip()[:1024].lower()
    if start.startswith(("<!doctype html", "<html")) or ("<html" in start and "<body" in text.lower()):
        return Sniffed("html", "text/html", "an HTML page")
    if suffix in (".md", ".markdown"):
        return Sniffed("markdown", "text/markdown", "a Markdown text")
    if suffix in (".csv", ".tsv") and _is_csv(text):
        return Sniffed("csv", "text/csv", "CSV data")
    if re.match(r"\s*#{1,6} \S", text) and suffix in ("", ".txt", ".text"):
        return Sniffed("markdown", "text/markdown", "a Markdown text")
    return Sniffed("text", "text/plain", "plain text")


def _is_mail(head: bytes) -> bool:
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    known = 0
    for i, line in enumerate(lines[:60]):
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):
            continue                         # folded header continuation
        if i == 0 and line.startswith(b"From "):
            continue                         # mbox separator line
        m = _HEADER_LINE.match(line)
        if not m:
            return False
        known += m.group(1).decode("ascii").lower() in _MAIL_HEADERS
    return known >= 2


def _is_csv(text: str) -> bool:
    sample = "\n".join(text.splitlines()[:20])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return False
    rows = list(csv.reader(io.StringIO(sample), dialect))
    widths = {len(r) for r in rows if r}
    return len(widths) == 1 and widths.pop() > 1
