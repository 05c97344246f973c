"""Every extractor reads good files fully and turns bad ones into a one-line reason."""
from __future__ import annotations

import random
import re
import tracemalloc
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from archiver.errors import ExtractionError
from archiver.extract import Extractor, Limits, extract, for_mime, registered
from archiver.extract.mail import decode_header_value
from archiver.extract.pdf import parse_pdf_date
from archiver.extract.text import decode_bytes
from tests.makers import (
    DEJAVU, forge_declared_size, make_docx, make_eml, make_image_only_pdf, make_pdf, make_text, render_scan, write_zip,
    xmp_packet,
)

UTC = timezone.utc
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EML = "message/rfc822"
CEST = timezone(timedelta(hours=2))


def garbage(size: int = 4000, seed: int = 7) -> bytes:
    """Return reproducible random bytes."""
    return random.Random(seed).randbytes(size)


# ---------------------------------------------------------------- the registry


@pytest.mark.parametrize("extractor", registered(), ids=lambda e: e.name)
def test_every_registered_extractor_fulfils_the_protocol(extractor):
    assert isinstance(extractor, Extractor)
    assert extractor.mime_types and all("/" in m for m in extractor.mime_types)
    assert isinstance(extractor.name, str) and isinstance(extractor.score, int)


@pytest.mark.parametrize("mime,name", [
    (PDF, "pdf"), (DOCX, "docx"), ("text/plain", "text"), ("text/markdown", "markdown"),
    ("text/html", "html"), ("text/csv", "csv"), (EML, "email"), ("image/png", "image"),
    ("image/jpeg", "image"), ("image/tiff", "image"), ("image/gif", "image"),
    ("image/bmp", "image"), ("image/webp", "image"),
])
def test_each_sniffed_mime_type_has_its_extractor(mime, name):
    assert for_mime(mime).name == name


@pytest.mark.parametrize("mime", sorted({m for e in registered() for m in e.mime_types}))
def test_garbage_and_empty_files_raise_only_extraction_error(tmp_path, mime):
    path = tmp_path / "input"
    path.write_bytes(b"")
    with pytest.raises(ExtractionError, match="^empty file$"):
        extract(path, mime)
    path.write_bytes(garbage())
    with pytest.raises(ExtractionError):
        extract(path, mime)


# ---------------------------------------------------------------- PDF


def test_pdf_text_per_page_and_info_metadata(tmp_path):
    path = make_pdf(tmp_path / "r.pdf", ["Quarterly report CR-2023-0142", "Second page"],
                    title="Quarterly report", author="Ann Lee", subject="Q1 status",
                    keywords="report, Q1", created=datetime(2023, 4, 12, 10, 15, tzinfo=CEST),
                    modified=datetime(2023, 5, 1, 8, 0, 30, tzinfo=UTC))
    result = extract(path, PDF)
    assert [(p.number, p.text.strip(), p.source) for p in result.pages] == [
        (1, "Quarterly report CR-2023-0142", "text"), (2, "Second page", "text")]
    assert (result.title, result.author, result.subject, result.keywords) == (
        "Quarterly report", "Ann Lee", "Q1 status", "report, Q1")
    assert result.created == datetime(2023, 4, 12, 8, 15, tzinfo=UTC)
    assert result.modified == datetime(2023, 5, 1, 8, 0, 30, tzinfo=UTC)
    assert result.created.tzinfo is UTC
    assert result.page_count == 2
    assert result.needs_ocr == ()
    assert result.warnings == ()
    assert result.metadata["encrypted"] is False


def test_pdf_falls_back_to_xmp_for_missing_info_fields(tmp_path):
    path = make_pdf(tmp_path / "x.pdf", ["Body"], xmp={
        "title": "XMP title", "creator": ["Ann Lee", "Bo Chan"], "description": "XMP subject",
        "keywords": "alpha, beta", "create_date": datetime(2022, 1, 2, 3, 4, 5, tzinfo=UTC),
        "modify_date": datetime(2022, 2, 3, 4, 5, 6, tzinfo=CEST)})
    result = extract(path, PDF)
    assert (result.title, result.author, result.subject, result.keywords) == (
        "XMP title", "Ann Lee; Bo Chan", "XMP subject", "alpha, beta")
    assert result.created == datetime(2022, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert result.modified == datetime(2022, 2, 3, 2, 5, 6, tzinfo=UTC)


def test_pdf_info_dictionary_wins_over_xmp(tmp_path):
    path = make_pdf(tmp_path / "b.pdf", ["Body"], title="Info title",
                    xmp={"title": "XMP title", "creator": ["XMP author"]})
    result = extract(path, PDF)
    assert result.title == "Info title"
    assert result.author == "XMP author"


def test_pdf_malformed_dates_are_dropped_with_a_warning(tmp_path):
    path = make_pdf(tmp_path / "d.pdf", ["Still readable"], title="Dates",
                    info={"/CreationDate": "D:2023-13-45junk", "/ModDate": "D:20231345"},
                    xmp=xmp_packet("<xmp:CreateDate>yesterday</xmp:CreateDate>"))
    result = extract(path, PDF)
    assert result.created is None and result.modified is None
    assert result.title == "Dates"
    assert result.text.strip() == "Still readable"
    assert result.warnings == (
        "malformed created date ignored: 'D:2023-13-45junk'",
        "malformed modified date ignored: 'D:20231345'",
        "malformed XMP created date ignored: Invalid date format: yesterday",
    )


@pytest.mark.parametrize("text,expected", [
    ("D:20230412101500+02'00'", datetime(2023, 4, 12, 8, 15, tzinfo=UTC)),
    ("D:20230412101500-05'30", datetime(2023, 4, 12, 15, 45, tzinfo=UTC)),
    ("D:20230412101500Z00'00'", datetime(2023, 4, 12, 10, 15, tzinfo=UTC)),
    ("D:20230412101500", datetime(2023, 4, 12, 10, 15, tzinfo=UTC)),
    ("20230412", datetime(2023, 4, 12, tzinfo=UTC)),
    ("D:2023", datetime(2023, 1, 1, tzinfo=UTC)),
    ("2023-04-12T10:15:00+02:00", datetime(2023, 4, 12, 8, 15, tzinfo=UTC)),
])
def test_parse_pdf_date(text, expected):
    assert parse_pdf_date(text) == expected


@pytest.mark.parametrize("text", ["", "junk", "D:20231345", "D:2023041299", "D:2023-04-12"])
def test_parse_pdf_date_rejects_junk(text):
    with pytest.raises(ValueError):
        parse_pdf_date(text)


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path, algorithm):
    path = make_pdf(tmp_path / "e.pdf", ["Open secret"], title="Locked title", encrypt=("", algorithm))
    result = extract(path, PDF)
    assert result.text.strip() == "Open secret"
    assert result.title == "Locked title"
    assert result.metadata["encrypted"] is True


def test_pdf_needing_a_password_is_rejected(tmp_path):
    path = make_pdf(tmp_path / "p.pdf", ["Hidden"], encrypt="user-password")
    with pytest.raises(ExtractionError) as caught:
        extract(path, PDF)
    assert caught.value.reason == "encrypted PDF (password required)"


def test_truncated_pdf_is_rejected(tmp_path):
    good = make_pdf(tmp_path / "good.pdf", ["Page one " * 30, "Page two " * 30]).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ExtractionError) as caught:
        extract(path, PDF)
    assert caught.value.reason == "corrupt PDF: truncated (no %%EOF marker)"


@pytest.mark.parametrize("data,reason", [
    (b"just words, no PDF here\n", "corrupt PDF: no %PDF- header"),
    (b"%PDF-1.7\n" + b"\x00garbage\xff" * 50 + b"\n%%EOF\n", None),
    (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF", None),
])
def test_garbage_pdf_is_rejected_as_corrupt(tmp_path, data, reason):
    path = tmp_path / "bad.pdf"
    path.write_bytes(data)
    with pytest.raises(ExtractionError) as caught:
        extract(path, PDF)
    assert caught.value.reason == reason if reason else caught.value.reason.startswith("corrupt PDF: ")
    assert "\n" not in caught.value.reason


def test_pdf_page_without_text_waits_for_ocr(tmp_path):
    result = extract(make_pdf(tmp_path / "m.pdf", ["Typed page", "", "Another"]), PDF)
    assert result.needs_ocr == (2,)
    assert [p.source for p in result.pages] == ["text", "none", "text"]
    assert result.pages[1].text.strip() == ""


def test_image_only_pdf_waits_for_ocr(tmp_path):
    scan = render_scan(["Scanned letter"], size=(620, 877), dpi=75)
    result = extract(make_image_only_pdf(tmp_path / "scan.pdf", scan), PDF)
    assert result.page_count == 1
    assert result.needs_ocr == (1,)
    assert result.pages[0].source == "none"


def test_pdf_respects_page_and_text_limits(tmp_path):
    path = make_pdf(tmp_path / "l.pdf", ["a" * 100, "b" * 100, "c" * 100])
    result = extract(path, PDF, Limits(max_pages=2, max_text_chars=150))
    assert result.page_count == 3
    assert sum(len(p.text) for p in result.pages) == 150
    assert [p.number for p in result.pages] == [1, 2]
    assert result.warnings == ("only the first 2 of 3 pages were read",
                               "text truncated at 150 characters (page 2 of 3)")


@pytest.mark.skipif(not DEJAVU.exists(), reason="DejaVuSans is not installed")
def test_pdf_non_latin_text(tmp_path):
    result = extract(make_pdf(tmp_path / "u.pdf", ["Ελληνικά και русский текст"]), PDF)
    assert "Ελληνικά" in result.text and "русский" in result.text


# ---------------------------------------------------------------- DOCX


def full_docx(tmp_path, **extra):
    """Write a DOCX with every kind of text python-docx's paragraphs alone would miss or repeat."""
    return make_docx(
        tmp_path / "d.docx", ["First paragraph", "Second paragraph"],
        table=[["Merged heading", "", "Status"], ["CR-1", "open", "high"]], merge=[((0, 0), (0, 1))],
        header="Header text", footer="Footer text", text_box="Boxed words",
        content_control="Controlled words", **extra)


def test_docx_text_in_document_order(tmp_path):
    result = extract(full_docx(tmp_path), DOCX)
    assert result.text == (
        "Header text\nFirst paragraph\nSecond paragraph\nMerged heading | Status\n"
        "CR-1 | open | high\nAnchor\nBoxed words\nControlled words\nFooter text")
    assert result.page_count is None
    assert [p.number for p in result.pages] == [1]


def test_docx_merged_cell_and_text_box_appear_once(tmp_path):
    text = extract(full_docx(tmp_path), DOCX).text
    assert text.count("Merged heading") == 1
    assert text.count("Boxed words") == 1


def test_docx_core_properties(tmp_path):
    path = full_docx(tmp_path, core={
        "title": "Change request", "author": "Dora Diaz", "subject": "CR-2023-0142",
        "keywords": "pump, valve", "created": datetime(2023, 1, 2, 3, 4, 5),
        "modified": datetime(2023, 2, 3, 4, 5, 6), "revision": 7, "last_modified_by": "Max Moll"})
    result = extract(path, DOCX)
    assert (result.title, result.author, result.subject, result.keywords) == (
        "Change request", "Dora Diaz", "CR-2023-0142", "pump, valve")
    assert result.created == datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert result.modified == datetime(2023, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert result.metadata["revision"] == 7
    assert result.metadata["last_modified_by"] == "Max Moll"


def test_docx_without_core_part_has_no_invented_properties(tmp_path):
    path = make_docx(tmp_path / "n.docx", ["Body"], with_core_part=False)
    with zipfile.ZipFile(path) as archive:
        assert "docProps/core.xml" not in archive.namelist()
    result = extract(path, DOCX)
    assert (result.title, result.author, result.created, result.modified) == (None, None, None, None)
    assert result.text == "Body"


def test_docx_malformed_core_date_is_dropped_with_a_warning(tmp_path):
    path = make_docx(tmp_path / "d.docx", ["Body"], core={"author": "Ann"})
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["docProps/core.xml"] = re.sub(
        rb"(<dcterms:created[^>]*>)[^<]*", rb"\1last tuesday", members["docProps/core.xml"])
    write_zip(path, members)
    result = extract(path, DOCX)
    assert result.created is None
    assert result.author == "Ann"
    assert result.warnings == ("malformed created date ignored: 'last tuesday'",)


def test_docx_declaring_too_many_bytes_is_rejected(tmp_path):
    path = make_docx(tmp_path / "b.docx", ["Body"])
    with pytest.raises(ExtractionError, match=r"^DOCX zip bomb: declares \d+ bytes \(limit 1000\)$"):
        extract(path, DOCX, Limits(max_inflated_bytes=1000))


def test_docx_with_a_highly_compressed_member_is_rejected(tmp_path):
    path = make_docx(tmp_path / "b.docx", ["Body"])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/filler.bin", b"\0" * 20_000_000)
    with pytest.raises(ExtractionError) as caught:
        extract(path, DOCX)
    assert caught.value.reason.startswith("DOCX zip bomb: declares 20000000 bytes for 'word/media/filler.bin'")


@pytest.mark.parametrize("member,reason", [
    ("word/document.xml", "not a valid DOCX: Bad CRC-32 for file 'word/document.xml'"),
    ("docProps/thumbnail.jpeg", None),   # not XML: never inflated at all
], ids=["xml-part", "media-part"])
def test_docx_member_lying_about_its_size_is_never_inflated(tmp_path, member, reason):
    path = make_docx(tmp_path / "l.docx", ["Body"])
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    honest = len(members.get(member, b""))
    members[member] = members.get(member, b"") + b" " * 60_000_000   # trailing blanks: still valid XML
    forge_declared_size(write_zip(path, members), member, honest or 100)
    tracemalloc.start()
    try:
        if reason:
            with pytest.raises(ExtractionError) as caught:
                extract(path, DOCX)
            assert caught.value.reason == reason
        else:
            assert extract(path, DOCX).text == "Body"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_docx_xml_entities_are_never_expanded(tmp_path):
    path = make_docx(tmp_path / "e.docx", ["Body"])
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    head, rest = members["word/document.xml"].split(b"?>", 1)
    doctype = (b'<!DOCTYPE w:document [<!ENTITY a "EXPANDED"><!ENTITY b "&a;&a;&a;&a;&a;">'
               b'<!ENTITY ext SYSTEM "file:///etc/passwd">]>')
    members["word/document.xml"] = head + b"?>" + doctype + rest.replace(b">Body<", b">Body &b;&ext;<")
    text = extract(write_zip(path, members), DOCX).text
    assert text.strip() == "Body"


@pytest.mark.parametrize("members,reason", [
    (None, "not a valid DOCX: File is not a zip file"),
    ({"hello.txt": b"hi"}, "not a valid DOCX: word/document.xml missing"),
])
def test_docx_that_is_not_a_word_package_is_rejected(tmp_path, members, reason):
    path = tmp_path / "x.docx"
    if members is None:
        path.write_bytes(b"PK but not really a zip" * 10)
    else:
        write_zip(path, members)
    with pytest.raises(ExtractionError) as caught:
        extract(path, DOCX)
    assert caught.value.reason == reason


def test_docx_with_broken_xml_is_rejected(tmp_path):
    path = make_docx(tmp_path / "x.docx", ["Body"])
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["word/document.xml"] = b"<w:document xmlns:w='broken"
    write_zip(path, members)
    with pytest.raises(ExtractionError, match="^not a valid DOCX: "):
        extract(path, DOCX)


# ---------------------------------------------------------------- text, Markdown, HTML, CSV

SAMPLE = "résumé – café\nline two\n"


@pytest.mark.parametrize("data,encoding", [
    (SAMPLE.encode("utf-8"), "utf-8"),
    (SAMPLE.encode("utf-8-sig"), "utf-8-sig"),
    (b"\xff\xfe" + SAMPLE.encode("utf-16-le"), "utf-16"),
    (b"\xfe\xff" + SAMPLE.encode("utf-16-be"), "utf-16"),
    (SAMPLE.encode("cp1252"), "cp1252"),
])
def test_text_encodings_are_detected(tmp_path, data, encoding):
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    result = extract(path, "text/plain")
    assert result.text == SAMPLE
    assert result.metadata["encoding"] == encoding
    assert result.title is None


def test_text_line_ends_are_normalised(tmp_path):
    result = extract(make_text(tmp_path / "w.txt", "one\r\ntwo\rthree"), "text/plain")
    assert result.text == "one\ntwo\nthree"


@pytest.mark.parametrize("data", [garbage(), b"\0" * 500, b"ab\0\0\1\2\3\4" * 100])
def test_binary_data_is_not_text(tmp_path, data):
    path = tmp_path / "b.txt"
    path.write_bytes(data)
    with pytest.raises(ExtractionError) as caught:
        extract(path, "text/plain")
    assert caught.value.reason == "undecodable text: not UTF-8, UTF-16 or a single-byte encoding"


def test_decode_bytes_is_reusable():
    assert decode_bytes("Grüße".encode("cp1252")) == ("Grüße", "cp1252")
    assert decode_bytes("Grüße".encode()) == ("Grüße", "utf-8")


@pytest.mark.parametrize("text,title", [
    ("Intro line\n\n# Release notes 2.1\n\nBody # not a title\n", "Release notes 2.1"),
    ("```\n# inside a code block\n```\n# Real title #\n", "Real title"),
    ("Setext title\n============\n\ntext\n", "Setext title"),
    ("## Only a subheading\n", None),
])
def test_markdown_title_is_the_first_level_one_heading(tmp_path, text, title):
    assert extract(make_text(tmp_path / "r.md", text), "text/markdown").title == title


def test_plain_text_has_no_title_even_with_a_hash_line(tmp_path):
    assert extract(make_text(tmp_path / "r.txt", "# Not a title\n"), "text/plain").title is None


HTML = """<!DOCTYPE html><html><head><meta charset="iso-8859-15">
<title>Price  list</title><meta name="author" content="Ann Lee">
<meta name="description" content="Spare parts"><meta name="keywords" content="pump, valve">
<style>body { color: red }</style><script>var secret = "hidden-js";</script></head>
<body><h1>Spare parts</h1><p>Pump <b>P-100</b> costs 5 €</p><noscript>enable js</noscript>
<template>template text</template><div hidden>hidden div</div>
<table><tr><th>Part</th><th>Price</th></tr><tr><td>V-2</td><td>7 €</td></tr></table>
<!-- a comment --></body></html>"""


def test_html_visible_text_title_and_meta(tmp_path):
    path = tmp_path / "p.html"
    path.write_bytes(HTML.encode("iso-8859-15"))
    result = extract(path, "text/html")
    assert result.text == "Price list\nSpare parts\nPump P-100 costs 5 €\nPart | Price\nV-2 | 7 €"
    assert (result.title, result.author, result.subject, result.keywords) == (
        "Price list", "Ann Lee", "Spare parts", "pump, valve")
    assert result.metadata["encoding"] == "iso8859-15"


def test_csv_rows_columns_and_dialect(tmp_path):
    path = make_text(tmp_path / "p.csv", 'part;price;note\nA-1;3,50;"says ""hi""; ok"\n\nB-2;4,00;\n')
    result = extract(path, "text/csv")
    assert result.text == 'part | price | note\nA-1 | 3,50 | says "hi"; ok\nB-2 | 4,00 | '
    assert result.metadata["rows"] == 2
    assert result.metadata["columns"] == ["part", "price", "note"]
    assert result.metadata["delimiter"] == ";"
    assert result.title is None


def test_csv_single_column_falls_back_to_commas(tmp_path):
    result = extract(make_text(tmp_path / "one.csv", "name\nalpha\nbeta\n"), "text/csv")
    assert result.text == "name\nalpha\nbeta"
    assert result.metadata["rows"] == 2


# ---------------------------------------------------------------- e-mail


def test_email_headers_are_decoded(tmp_path):
    path = make_eml(
        tmp_path / "m.eml", subject="=?utf-8?q?R=C3=A9sum=C3=A9?= for =?iso-8859-1?q?M=FCller?=",
        from_='"=?utf-8?q?M=C3=BCller=2C_Hans?=" <hans@example.com>',
        to=["Bob Example <bob@example.com>", "carol@example.com"], cc=["Dave <dave@example.com>"],
        date="Wed, 12 Apr 2023 10:15:00 +0200", message_id="<cr-42@example.com>",
        in_reply_to="<cr-41@example.com>", references="<cr-40@example.com>\r\n <cr-41@example.com>")
    result = extract(path, EML)
    assert result.title == "Résumé for Müller"
    assert result.author == "Müller, Hans <hans@example.com>"
    assert result.created == datetime(2023, 4, 12, 8, 15, tzinfo=UTC)
    assert result.metadata == {
        "from": "Müller, Hans <hans@example.com>",
        "to": ["Bob Example <bob@example.com>", "carol@example.com"],
        "cc": ["Dave <dave@example.com>"], "bcc": [],
        "date": "2023-04-12T08:15:00+00:00", "subject": "Résumé for Müller",
        "message_id": "<cr-42@example.com>", "in_reply_to": "<cr-41@example.com>",
        "references": ["<cr-40@example.com>", "<cr-41@example.com>"],
    }
    assert result.text == (
        "From: Müller, Hans <hans@example.com>\nTo: Bob Example <bob@example.com>, carol@example.com\n"
        "Cc: Dave <dave@example.com>\nDate: Wed, 12 Apr 2023 10:15:00 +0200\n"
        "Subject: Résumé for Müller\n\nHello Bob,\nthe report is attached.")
    assert result.warnings == ()


def test_email_attachments_keep_their_names_as_data(tmp_path):
    path = make_eml(tmp_path / "a.eml", attachments=[
        ("../../etc/passwd", b"root:x:0:0", "text/plain"),
        ("report.pdf", b"%PDF-1.4 fake", "application/pdf"),
        ("=?utf-8?q?Pr=C3=BCfbericht.txt?=", "Prüfbericht".encode(), "text/plain")])
    result = extract(path, EML)
    assert [(a.name, a.content_type, a.data) for a in result.attachments] == [
        ("../../etc/passwd", "text/plain", b"root:x:0:0"),
        ("report.pdf", "application/pdf", b"%PDF-1.4 fake"),
        ("Prüfbericht.txt", "text/plain", "Prüfbericht".encode())]
    assert "root:x" not in result.text
    assert result.text.endswith("\n\nHello Bob,\nthe report is attached.")


def test_email_nested_message_and_inline_image_become_attachments(tmp_path):
    path = tmp_path / "n.eml"
    path.write_bytes(
        b"From: a@example.com\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nouter body\r\n"
        b"--B\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
        b"--B\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.bin\r\n\r\nxyz\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: inner@example.com\r\nSubject: inner\r\n\r\ninner body\r\n--B--\r\n")
    result = extract(path, EML)
    assert result.text == "From: a@example.com\nSubject: nested\n\nouter body"
    names = [(a.name, a.content_type) for a in result.attachments]
    assert names == [("attachment-1", "image/png"), ("été.bin", "application/octet-stream"),
                     ("attachment-3", "message/rfc822")]
    assert result.attachments[0].data == b"\x89PNG\r\n\x1a\n"
    assert b"Subject: inner" in result.attachments[2].data
    assert b"inner body" in result.attachments[2].data


@pytest.mark.parametrize("encoding, encode", [
    ("base64", lambda b: __import__("base64").encodebytes(b)),
    ("quoted-printable", lambda b: __import__("quopri").encodestring(b))])
def test_an_attached_message_encoded_against_the_rules_is_decoded(tmp_path, encoding, encode):
    # RFC 2046 forbids a transfer encoding on message/rfc822, but some mailers send one;
    # the attachment must still be the message, not its encoded text.
    inner = b"From: inner@example.com\r\nSubject: forwarded CR-2024-0007\r\n\r\ninner body = 100 %\r\n"
    path = tmp_path / "e.eml"
    path.write_bytes(
        b"From: a@example.com\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: " + encoding.encode()
        + b"\r\n\r\n" + encode(inner) + b"\r\n--B--\r\n")
    [attached] = extract(path, EML).attachments
    assert attached.content_type == "message/rfc822"
    assert attached.data.replace(b"\r\n", b"\n") == inner.replace(b"\r\n", b"\n")
    nested = tmp_path / "inner.eml"
    nested.write_bytes(attached.data)
    assert extract(nested, EML).title == "forwarded CR-2024-0007"


def test_email_unknown_charset_and_8bit_headers_are_tolerated(tmp_path):
    path = make_eml(tmp_path / "u.eml", subject="Grüße, =?x-bogus?q?Caf=E9?=",
                    charset="x-unknown-foo", body_bytes="Café au lait".encode("latin-1"))
    result = extract(path, EML)
    assert result.title == "Grüße, Café"
    assert result.text.endswith("\n\nCafé au lait")
    assert result.warnings == ("unknown charset 'x-unknown-foo' in body; read as Latin-1",)


def test_email_malformed_date_is_tolerated(tmp_path):
    result = extract(make_eml(tmp_path / "d.eml", date="the day after tomorrow"), EML)
    assert result.created is None
    assert result.metadata["date"] is None
    assert "Date: the day after tomorrow\n" in result.text
    assert result.warnings == ("malformed Date header ignored: 'the day after tomorrow'",)


def test_email_html_only_body_is_converted(tmp_path):
    html = "<html><head><style>p {}</style></head><body><p>Only <b>HTML</b> here</p><script>x()</script></body></html>"
    result = extract(make_eml(tmp_path / "h.eml", body=None, html=html), EML)
    assert result.text.endswith("\n\nOnly HTML here")


def test_email_plain_text_is_preferred_to_html(tmp_path):
    result = extract(make_eml(tmp_path / "p.eml", body="plain version", html="<p>html version</p>"), EML)
    assert result.text.endswith("\n\nplain version")
    assert "html version" not in result.text


def test_file_without_headers_is_not_an_email(tmp_path):
    path = make_text(tmp_path / "x.eml", "just some words\nwithout headers\n")
    with pytest.raises(ExtractionError, match="^not an e-mail message: no headers found$"):
        extract(path, EML)


@pytest.mark.parametrize("raw,decoded", [
    ("=?utf-8?q?R=C3=A9sum=C3=A9?=", "Résumé"),
    ("Re: =?utf-8?q?R=C3=A9sum=C3=A9?=  =?utf-8?q?_2?= plain", "Re: Résumé 2 plain"),
    ("=?UTF-8?B?w6k=?= and =?utf-8?b?w6k?=", "é and é"),
    ("=?utf-8?b?bad base64?= =?utf-8*en?Q?caf=C3=A9?=", "=?utf-8?b?bad base64?= café"),
    ("=?x-bogus?q?Caf=E9?=", "Café"),
    ("folded\r\n line", "folded line"),
    (None, ""),
])
def test_decode_header_value(raw, decoded):
    assert decode_header_value(raw) == decoded


# ---------------------------------------------------------------- images


def test_png_and_jpeg_wait_for_ocr(tmp_path):
    scan = render_scan(["Delivery note 4711"], size=(827, 1169), dpi=100)
    scan.save(tmp_path / "s.png", dpi=(100, 100))
    scan.convert("RGB").save(tmp_path / "s.jpg", dpi=(100, 100))
    for name, mime, mode in (("s.png", "image/png", "L"), ("s.jpg", "image/jpeg", "RGB")):
        result = extract(tmp_path / name, mime)
        assert result.page_count == 1
        assert result.needs_ocr == (1,)
        assert [(p.number, p.text, p.source) for p in result.pages] == [(1, "", "none")]
        assert {k: result.metadata[k] for k in ("width", "height", "dpi", "mode")} == {
            "width": 827, "height": 1169, "dpi": [100.0, 100.0], "mode": mode}


def test_every_tiff_frame_is_a_page(tmp_path):
    frames = [render_scan([f"Page {n}"], size=(400, 300), dpi=50) for n in (1, 2, 3)]
    frames[0].save(tmp_path / "fax.tif", save_all=True, append_images=frames[1:])
    result = extract(tmp_path / "fax.tif", "image/tiff")
    assert result.page_count == 3
    assert result.needs_ocr == (1, 2, 3)
    assert [p.number for p in result.pages] == [1, 2, 3]


def test_animated_gif_is_one_page(tmp_path):
    frames = [render_scan([f"Frame {n}"], size=(200, 100), dpi=25) for n in (1, 2, 3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    result = extract(tmp_path / "a.gif", "image/gif")
    assert result.page_count == 1
    assert result.metadata["frames"] == 3


@pytest.mark.parametrize("limit", [100_000, 10_000])   # Pillow warns past the limit, fails past twice it
def test_image_over_the_pixel_limit_is_rejected(tmp_path, limit):
    Image.new("L", (400, 300), 255).save(tmp_path / "big.png")
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ExtractionError) as caught:
        extract(tmp_path / "big.png", "image/png", Limits(max_image_pixels=limit))
    assert caught.value.reason == f"image too large: 120000 pixels (limit {limit})"
    assert Image.MAX_IMAGE_PIXELS == before


def test_truncated_png_is_rejected(tmp_path):
    render_scan(["Truncated"], size=(600, 400), noise=0.2).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExtractionError, match="^corrupt image: image file is truncated"):
        extract(tmp_path / "cut.png", "image/png")


def test_render_scan_draws_text_reproducibly():
    first = render_scan(["Hello"], size=(300, 120), dpi=100, noise=0.1, seed=3)
    second = render_scan(["Hello"], size=(300, 120), dpi=100, noise=0.1, seed=3)
    blank = render_scan([], size=(300, 120), dpi=100)
    assert first.size == (300, 120) and first.mode == "L"
    assert first.tobytes() == second.tobytes()
    assert blank.getextrema() == (255, 255)
    assert render_scan(["Hello"], size=(300, 120), dpi=100).getextrema() == (0, 255)


def test_a_mailbox_of_several_messages_gives_each_message_as_an_attachment(tmp_path):
    def message(n: int) -> bytes:
        return (f"From: alice@example.com\nSubject: message {n} on CR-2024-090{n}\n"
                f"Date: Mon, 04 Mar 2024 09:0{n}:00 +0000\n\nBody {n}.\n>From the minutes: approved.\n").encode()
    path = tmp_path / "box.mbox"
    path.write_bytes(b"".join(b"From alice@example.com Mon Mar  4 09:00:00 2024\n" + message(n) + b"\n"
                              for n in range(1, 4)))
    result = extract(path, EML)
    assert [a.name for a in result.attachments] == ["message-1.eml", "message-2.eml", "message-3.eml"]
    assert result.metadata == {"mailbox": True, "messages": 3}
    assert "message 2 on CR-2024-0902" in result.text
    first = tmp_path / "first.eml"
    first.write_bytes(result.attachments[0].data)
    inner = extract(first, EML)
    assert inner.title == "message 1 on CR-2024-0901"
    assert "From the minutes: approved." in inner.text and ">From" not in inner.text   # unquoted
    # A mailbox of one message is that message.
    one = tmp_path / "one.mbox"
    one.write_bytes(b"From alice@example.com Mon Mar  4 09:00:00 2024\n" + message(1))
    assert extract(one, EML).title == "message 1 on CR-2024-0901" and extract(one, EML).attachments == ()
