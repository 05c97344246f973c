"""Hostile inputs: each is rejected with a clear reason within its limit, and the batch goes on."""
from __future__ import annotations

import os
import struct
import time
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path

import pytest

from archiver import Archive
from tests.conftest import write


def limited(archive: Archive, **settings) -> Archive:
    """Reopen an archive with changed [ingest] settings."""
    toml = archive.root / "archive.toml"
    text = toml.read_text()
    for key, value in settings.items():
        lines = [line for line in text.splitlines() if line.startswith(f"{key} = ")]
        text = text.replace(lines[0], f"{key} = {value}")
    toml.write_text(text)
    archive.close()
    return Archive(archive.root)


def pdf(objects: list[bytes]) -> bytes:
    """Assemble a PDF from numbered objects (1-based), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_bomb() -> bytes:
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(b"\x00" * (1 << 20)) for _ in range(400)) + packer.flush()
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
                stream])


def pdf_loop() -> bytes:
    # The page tree's only kid is the page tree itself.
    return pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])


def docx_bytes(document_xml: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    import io
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/></Types>'))
        zf.writestr("_rels/.rels", (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'))
        zf.writestr("word/document.xml", document_xml)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def billion_laughs() -> bytes:
    entities = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%s;" % (str(i - 1).encode() if i > 1 else b"") * 10)
        for i in range(1, 10))
    body = (b'<?xml version="1.0"?><!DOCTYPE w:document [' + entities + b']><w:document ' + W +
            b'><w:body><w:p><w:r><w:t>laughing &lol9; matter</w:t></w:r></w:p></w:body></w:document>')
    return docx_bytes(body)


def docx_bomb() -> bytes:
    zeros = b"<!--" + b" " * (60 << 20) + b"-->"
    body = b'<?xml version="1.0"?><w:document ' + W + b'><w:body><w:p/></w:body></w:document>'
    return docx_bytes(body, {"word/padding.xml": zeros})


def png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


HOSTILE = {
    "bomb.pdf": (pdf_bomb, ("PDF exceeds", "memory", "limit")),
    "loop.pdf": (pdf_loop, ("corrupt PDF", "PDF", "nested")),
    "bomb.docx": (docx_bomb, ("DOCX zip bomb",)),
    "poster.png": (lambda: png_header(60_000, 60_000), ("image too large",)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_are_rejected_with_a_reason_and_the_batch_goes_on(archive, inbox, name):
    build, reasons = HOSTILE[name]
    archive = limited(archive, memory_limit_mb=600, timeout=60, max_inflated_mb=50, max_image_pixels=50_000_000)
    write(inbox, name, build())
    write(inbox, "zz-after.txt", "the batch goes on after the hostile file\n")
    start = time.monotonic()
    results = {os.path.basename(r.source): r for r in archive.ingest([inbox]).results}
    assert time.monotonic() - start < 60
    bad = results[name]
    assert bad.status == "rejected", bad
    assert any(word.lower() in bad.reason.lower() for word in reasons), bad.reason
    assert "\n" not in bad.reason
    assert archive.store.has(bad.sha256)                      # the original is kept
    assert results["zz-after.txt"].status == "indexed"
    assert archive.search("hostile")[1] == 1
    archive.close()


def test_entity_expansion_is_never_performed(archive, inbox):
    write(inbox, "laughs.docx", billion_laughs())
    start = time.monotonic()
    [result] = archive.ingest([inbox]).results
    assert time.monotonic() - start < 30
    assert archive.store.has(result.sha256)                    # kept, whatever became of it
    if result.status != "rejected":
        text = archive.text(str(result.doc_id))
        assert len(text) < 1000 and "lollollol" not in text       # no expansion happened


def test_a_worker_that_hangs_is_killed_at_its_time_limit(archive, inbox, monkeypatch):
    archive = limited(archive, timeout=2)
    write(inbox, "slow.txt", "this one hangs\n")
    write(inbox, "fine.txt", "this one is fine\n")
    monkeypatch.setattr("archiver.stages.extract_original", _slow_for_slow_txt)
    results = {os.path.basename(r.source): r for r in archive.ingest([inbox]).results}
    assert results["slow.txt"].reason == "timed out after 2 s"
    assert results["fine.txt"].status == "indexed"
    archive.close()


def _slow_for_slow_txt(path, mime, limits):
    from archiver import extract
    extraction = extract.extract(Path(path), mime, limits)
    if "hangs" in extraction.text:
        time.sleep(600)
    return extraction


def test_a_file_that_shrinks_while_being_stored_is_refused_and_taken_next_time(archive, inbox, monkeypatch):
    path = write(inbox, "growing.txt", "first words of a document still being written\n")
    from archiver.store import OriginalStore
    real = OriginalStore.put_file

    def shrink_first(self, source, sha256):
        Path(source).write_text("first")
        return real(self, source, sha256)
    monkeypatch.setattr(OriginalStore, "put_file", shrink_first)
    [result] = archive.ingest([inbox]).results
    assert result.status == "rejected"
    assert result.reason == "file changed while being read; it will be taken next time"
    assert not archive.store.has(result.sha256)
    monkeypatch.undo()
    [again] = archive.ingest([inbox]).results
    assert again.status == "indexed" and archive.text(str(again.doc_id)) == path.read_text()


def test_a_file_that_vanishes_is_reported(archive, inbox, monkeypatch):
    path = write(inbox, "gone.txt", "here and gone\n")
    from archiver import stages
    real = stages.hash_file

    def vanish(task):
        if task.path == path:
            path.unlink()
        return real(task)
    monkeypatch.setattr("archiver.stages.hash_file", vanish)
    [result] = archive.ingest([inbox]).results
    assert (result.status, result.reason) == ("rejected", "file vanished before it could be read")


def test_attachment_names_never_become_paths(archive, inbox, tmp_path):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "names"
    message.set_content("attachments with hostile names")
    names = ["../../etc/passwd", "C:\\Windows\\x.txt", "/abs/path.txt", "nul\x00byte.txt", "x" * 1000 + ".txt",
             "Résumé.txt", "Re\u0301sume\u0301.txt", "RESUME.TXT"]
    for i, name in enumerate(names):
        message.add_attachment(f"attachment number {i}".encode(), maintype="text", subtype="plain",
                               filename=name)
    write(inbox, "names.eml", message.as_bytes())
    before = set(tmp_path.rglob("*"))
    results = archive.ingest([inbox]).results
    assert len(results) == 1 + len(names)
    assert all(r.status == "indexed" for r in results), [(r.source, r.reason) for r in results]
    created = set(tmp_path.rglob("*")) - before
    assert all(archive.root in p.parents or p == archive.root for p in created), created
    shown = archive.show(str(results[0].doc_id)).attachments
    assert len(shown) == len(names)


@pytest.mark.slow
def test_a_2_gb_file_is_handled_within_its_limits(archive, inbox):
    big = inbox / "huge.bin"
    with open(big, "wb") as fh:
        fh.truncate(2 << 30)
    write(inbox, "small.txt", "small file after the huge one\n")
    results = {os.path.basename(r.source): r for r in archive.ingest([inbox]).results}
    assert results["huge.bin"].status == "rejected"
    assert results["small.txt"].status == "indexed"


def test_a_search_that_opens_the_index_while_a_writer_replaces_its_generation_retries(tmp_path, monkeypatch):
    # The soak test once saw "the search index is damaged (FileNotFoundError: ..._MAIN_95.toc)":
    # a reader listed generation 95 just before a writer committed 96 and removed it.
    from whoosh import index as whoosh_index
    from indexes.fulltext import FulltextIndex, IndexRecord
    ix = FulltextIndex(tmp_path / "ix")
    ix.create()
    with ix.writer() as w:
        w.add(IndexRecord(doc_id=1, title="memo", content="the gearbox housing"))
    real, calls = whoosh_index.open_dir, []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise FileNotFoundError(2, "No such file or directory", "_MAIN_95.toc")
        return real(*args, **kwargs)
    monkeypatch.setattr(whoosh_index, "open_dir", racing)
    assert ix.search("gearbox")[1] == 1 and len(calls) == 2
