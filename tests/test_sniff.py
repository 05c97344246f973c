"""Formats are decided by content, never by the file name."""
import zipfile

import pytest

from archiver.sniff import sniff


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name,data,fmt", [
    ("a.pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "pdf"),
    ("lies.docx", b"%PDF-1.4\n", "pdf"),
    ("scan.jpg", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image"),
    ("photo.png", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40, "image"),
    ("fax.tif", b"II*\x00\x08\x00\x00\x00" + b"\x00" * 40, "image"),
    ("notes.txt", "Meeting notes: café, Müller\n".encode(), "text"),
    ("notes.pdf", b"just some plain words pretending to be a PDF\n", "text"),
    ("cp1252.txt", "r\xe9sum\xe9 \x96 caf\xe9\n".encode("latin-1"), "text"),
    ("utf16.txt", "\ufeffHello UTF-16 world\n".encode("utf-16-le"), "text"),
    ("readme.md", b"# Title\n\nSome text\n", "markdown"),
    ("page.htm", b"<!DOCTYPE html><html><body>x</body></html>", "html"),
    ("export.txt", b"<html><head><title>t</title></head><body>x</body></html>", "html"),
    ("prices.csv", b"part,price,qty\nA-1,3.50,10\nB-2,4.00,5\n", "csv"),
    ("msg.eml", b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody", "email"),
    ("msg.txt", b"Received: from x\nFrom: a@example.com\nSubject: hi\n\nbody", "email"),
    ("empty.pdf", b"", "empty"),
    ("random.pdf", bytes(range(256)) * 4, "unknown"),
    ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "unknown"),
])
def test_format_comes_from_content(tmp_path, name, data, fmt):
    assert sniff(write(tmp_path, name, data)).format == fmt


def test_docx_is_a_zip_with_a_word_document(tmp_path):
    path = tmp_path / "renamed.bin"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    assert sniff(path).format == "docx"


def test_other_zips_are_named_in_the_reason(tmp_path):
    path = tmp_path / "report.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    result = sniff(path)
    assert (result.format, result.description) == ("unknown", "an Excel workbook (XLSX)")


def test_legacy_word_documents_are_named(tmp_path):
    result = sniff(write(tmp_path, "old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100))
    assert "legacy Microsoft Office" in result.description
