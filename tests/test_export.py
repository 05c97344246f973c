"""Evidence export: selection and families, the BagIt bag, load files, determinism, custody and the report."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import bagit
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver import Archive, FileError
from archiver.cli import main
from archiver.export import Request, loadfile
from archiver.export.numbering import number, safe_name
from archiver.records import Document
from archiver.verify import verify_bundle

SAMPLE = Path(__file__).parents[1] / "sample_archive"
CR = "CR-2024-0142"
CHROMIUM = Path("/usr/bin/chromium")
REQUIRED = ("BEGBATES ENDBATES BEGATTACH ENDATTACH PGCOUNT FILENAME FILEEXT FILESIZE TITLE AUTHOR DATECREATED "
            "DATEMOD DATESENT FROM TO CC SUBJECT MD5HASH SHA1HASH SHA256HASH NATIVEPATH TEXTPATH PRODUCTS "
            "CHANGEREQUESTS SOURCEPATHS").split()
AT = datetime(2025, 3, 2, 10, 30, tzinfo=timezone.utc)


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory) -> Path:
    """An archive of sample_archive/ (no OCR, for speed), built once and closed."""
    root = tmp_path_factory.mktemp("sample") / "archive"
    archive = Archive.init(root, products=SAMPLE / "products.toml")
    archive.ingest([SAMPLE / "inbox"], ocr=False)
    archive.close()
    return root


@pytest.fixture
def sample(sample_root, tmp_path) -> Archive:
    """A fresh copy of the sample archive that a test may change."""
    root = tmp_path / "archive"
    shutil.copytree(sample_root, root)
    archive = Archive(root)
    yield archive
    archive.close()


@pytest.fixture(scope="module")
def bundle(sample_root, tmp_path_factory) -> Path:
    """A folder bundle of CR-2024-0142, made once; tests must not change it."""
    folder = tmp_path_factory.mktemp("bundle")
    out = folder / "cr-0142"
    archive = Archive(shutil.copytree(sample_root, folder / "archive"))    # keep sample_root as ingested
    try:
        archive.export(Request(id=CR), out, at=AT)
    finally:
        archive.close()
    return out


def dat_table(data: bytes) -> tuple[list[str], list[list[str]]]:
    """Parse a Concordance DAT file independently of archiver's own reader."""
    assert data[:3] == b"\xef\xbb\xbf", "no UTF-8 byte-order mark"
    text = data[3:].decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    rows = []
    for line in text[:-2].split("\r\n"):
        assert line[0] == "\u00fe" and line[-1] == "\u00fe"
        rows.append([field.replace("\u00ae", "\n") for field in line[1:-1].split("\u00fe\x14\u00fe")])
    return rows[0], rows[1:]


def expected_ids(archive: Archive, cr: str) -> set[int]:
    ids = set(archive.catalog.docs_referring("change_request", cr))
    for doc_id in list(ids):
        ids |= {a for a, _ in archive.catalog.attachments_of(doc_id)}
        ids |= {m for m, _ in archive.catalog.messages_carrying(doc_id)}
    return ids


# -- selection, families, natives ---------------------------------------------------------------


def test_a_cr_bundle_holds_exactly_its_documents_and_their_families(sample, tmp_path):
    sample.export(Request(cr=CR), tmp_path / "b")
    header, rows = dat_table((tmp_path / "b" / "data" / "loadfile.dat").read_bytes())
    got = [dict(zip(header, r)) for r in rows]
    assert {int(r["ARCHIVEID"]) for r in got} == expected_ids(sample, CR)
    assert [r["BEGBATES"] for r in got] == [f"ARC-{n:08d}" for n in range(1, len(got) + 1)]
    mail = next(r for r in got if r["FILENAME"] == "2024-09-24_Acme quote for aluminium housing.eml")
    quote = next(r for r in got if r["PARENTID"])
    assert quote["FILENAME"] == "Acme_Quotation_24-0917.pdf"
    assert int(quote["BEGBATES"][4:]) == int(mail["BEGBATES"][4:]) + 1     # right after its e-mail
    assert (quote["PARENTID"], mail["ATTACHIDS"]) == (mail["BEGBATES"], quote["BEGBATES"])
    assert (mail["BEGATTACH"], mail["ENDATTACH"]) == (quote["BEGATTACH"], quote["ENDATTACH"]) \
        == (mail["BEGBATES"], quote["BEGBATES"])
    assert "CR-2024-0163" not in "".join(r["CHANGEREQUESTS"] for r in got if CR not in r["CHANGEREQUESTS"])
    for r in got:
        doc = sample.catalog.document(int(r["ARCHIVEID"]))
        native = tmp_path / "b" / "data" / r["NATIVEPATH"]
        assert native.read_bytes() == sample.store.path_for(doc.sha256).read_bytes()
        assert native.name.startswith(r["BEGBATES"] + "_") and r["SHA256HASH"] == doc.sha256
        assert (tmp_path / "b" / "data" / r["TEXTPATH"]).read_text(encoding="utf-8") == sample.catalog.text(doc.id)


def test_an_attachment_brings_its_e_mail_and_dates_limit_the_selection(sample):
    quote = sample.show("Acme_Quotation_24-0917.pdf").document.id
    items = sample.export(Request(id=str(quote)), dry_run=True).items
    assert [i["parent"] for i in items] == [None, "ARC-00000001"] and items[1]["doc_id"] == quote
    dated = sample.export(Request(product="WX-100", after="2024-10-01", before="2024-10-31"), dry_run=True)
    assert dated.items and all("2024-10-01" <= i["date"][:10] <= "2024-10-31" for i in dated.items)
    assert sample.export(Request(cr=CR, related=1), dry_run=True).documents > len(expected_ids(sample, CR))


# -- BagIt, load files -------------------------------------------------------------------------


def test_the_bundle_is_a_valid_bag_for_the_library_of_congress_tool(bundle, sample, tmp_path):
    bagit.Bag(str(bundle)).validate()
    assert verify_bundle(bundle).ok
    info = (bundle / "bag-info.txt").read_text()
    assert "Bagging-Date: 2025-03-02" in info and re.search(r"^Payload-Oxum: \d+\.\d+$", info, re.M)
    assert "Archiver-Selection: CR-2024-0142" in info
    out = sample.export(Request(cr=CR), tmp_path / "z", as_zip=True)
    assert out.out == str(tmp_path / "z.zip")
    with zipfile.ZipFile(out.out) as zf:
        assert {n.split("/")[0] for n in zf.namelist()} == {"z"}
        zf.extractall(tmp_path / "unzipped")
    bagit.Bag(str(tmp_path / "unzipped" / "z")).validate()
    assert verify_bundle(Path(out.out)).ok


def test_the_manifests_check_with_coreutils(bundle):
    for tool, manifest in (("sha256sum", "manifest-sha256.txt"), ("sha512sum", "manifest-sha512.txt"),
                           ("sha256sum", "tagmanifest-sha256.txt")):
        done = subprocess.run([tool, "-c", "--quiet", manifest], cwd=bundle, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    lines = (bundle / "manifest-sha256.txt").read_bytes().splitlines(keepends=True)
    rest = b"".join(line for line in lines if not line.endswith(b" data/hash-verification.txt\n"))
    statement = (bundle / "data" / "hash-verification.txt").read_text(encoding="utf-8")
    assert f"Payload manifest digest: {hashlib.sha256(rest).hexdigest()}" in statement


def test_the_dat_parses_back_to_the_same_rows_as_the_csv_and_json(bundle):
    header, rows = dat_table((bundle / "data" / "loadfile.dat").read_bytes())
    assert set(REQUIRED) <= set(header)
    as_json = json.loads((bundle / "data" / "loadfile.json").read_text(encoding="utf-8"))
    assert [dict(zip(header, r)) for r in rows] == as_json
    assert loadfile.read_csv((bundle / "data" / "loadfile.csv").read_bytes()) == (header, rows)
    assert any(r[header.index("FROM")] and r[header.index("DATESENT")] for r in rows)
    assert all(r[header.index("PRODUCTS")] for r in rows if "WX-100" in r[header.index("TITLE")])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(max_size=30), min_size=3, max_size=3), max_size=5))
def test_any_values_survive_the_dat_round_trip(table):
    rows = [[loadfile.clean(v) for v in row] for row in table]
    data = loadfile.dat_bytes(["A", "B", "C"], rows)
    assert loadfile.read_dat(data) == (["A", "B", "C"], rows) == dat_table(data)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_a_safe_name_is_always_a_plain_file_name(name):
    safe = safe_name(name, None)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", safe) and len(safe) <= 91 and ".." not in safe.split("/")


def test_doj_profile_and_renamed_fields_are_written_and_still_verify(sample, tmp_path):
    toml = sample.root / "archive.toml"
    toml.write_text(toml.read_text().replace('profile = "edrm"', 'profile = "doj"')
                    .replace("fields = {}", 'fields = {PGCOUNT = "PAGES"}').replace('prefix = "ARC"', 'prefix = "WX"'))
    archive = Archive(sample.root)
    try:
        archive.export(Request(cr=CR), tmp_path / "doj")
    finally:
        archive.close()
    header, rows = dat_table((tmp_path / "doj" / "data" / "loadfile.dat").read_bytes())
    assert header[:2] == ["BEGDOC#", "ENDDOC#"] and "PAGES" in header and "DOCLINK" in header
    assert rows[0][0] == "WX-00000001"
    assert verify_bundle(tmp_path / "doj").ok


# -- determinism, custody, atomicity ----------------------------------------------------------------


def _files(root: Path) -> dict[str, bytes]:
    found = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    found["bag-info.txt"] = re.sub(rb"(Bagging-Date|Archiver-Export-Time|External-Identifier): .*\n", b"",
                                   found["bag-info.txt"])
    found["tagmanifest-sha256.txt"] = re.sub(rb".* bag-info.txt\n", b"", found["tagmanifest-sha256.txt"])
    return found


def test_two_exports_are_byte_identical_apart_from_the_bagging_date(sample, tmp_path):
    first = sample.export(Request(cr=CR), tmp_path / "one")
    second = sample.export(Request(cr=CR), tmp_path / "two", at=AT)
    assert first.manifest_sha256 == second.manifest_sha256
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    zips = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        zips.append(sample.export(Request(cr=CR), tmp_path / name / "bundle.zip", at=AT))
    assert Path(zips[0].out).read_bytes() == Path(zips[1].out).read_bytes()
    with zipfile.ZipFile(zips[0].out) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {(i.date_time, i.external_attr >> 16, i.compress_type) for i in infos} == \
            {((1980, 1, 1, 0, 0, 0), 0o100644, zipfile.ZIP_DEFLATED)}
        zf.extractall(tmp_path / "x")
    assert _files(tmp_path / "x" / "bundle") == _files(tmp_path / "two")


def test_the_custody_record_reaches_the_head_and_the_export_is_audited(sample, tmp_path):
    head = sample.catalog.audit_head(skip_exports=True)
    last = sample.catalog.audit_head()["id"]
    result = sample.export(Request(cr=CR), tmp_path / "b")
    record = json.loads((tmp_path / "b" / "data" / "custody.json").read_text(encoding="utf-8"))
    assert record["audit_head"] == head == result.audit_head
    actions = {e["action"] for d in record["documents"] for e in d["events"]}
    assert {"ingest.stored", "ingest.extracted"} <= actions and not actions & {"export", "export.bundle"}
    quote = next(d for d in record["documents"] if d["attachment_of"])
    assert quote["events"][0]["detail"].count("#attachment-1") == 1    # first seen inside the e-mail
    new = [e for e in sample.catalog.audit_events() if e["id"] > last]
    assert [e["action"] for e in new] == ["export"] * result.documents + ["export.bundle"]
    assert {e["detail"]["manifest_sha256"] for e in new} == {result.manifest_sha256}
    assert sample.verify().ok


def test_a_failed_export_leaves_nothing_behind(sample, tmp_path):
    doc = sample.catalog.document(sample.catalog.docs_referring("change_request", CR)[-1])
    sample.store.path_for(doc.sha256).unlink()
    events = len(sample.catalog.audit_events())
    dead = _dead_pid()
    (tmp_path / f"b.zip.partial-{dead}.d").mkdir()          # left by an export that was killed
    with pytest.raises(FileError, match="original missing"):
        sample.export(Request(cr=CR), tmp_path / "b", as_zip=True)
    assert list(tmp_path.glob("b*")) == [] and len(sample.catalog.audit_events()) == events


def test_the_cli_lists_exports_and_refuses_bad_usage(sample, tmp_path):
    run = lambda *a: CliRunner().invoke(main, ["--archive", str(sample.root), "export", *a])  # noqa: E731
    listed = run(CR, "--dry-run", "--json")
    assert listed.exit_code == 0 and json.loads(listed.output)["dry_run"] is True
    assert not list(tmp_path.glob("out*"))
    assert run("--dry-run").exit_code == 2 and run(CR, "--cr", CR, "--dry-run").exit_code == 2
    assert run(CR).exit_code == 2
    (tmp_path / "out").mkdir()
    taken = run(CR, "--out", str(tmp_path / "out"))
    assert taken.exit_code == 1 and "already exists" in taken.output
    made = run(CR, "--out", str(tmp_path / "new"), "--zip")
    assert made.exit_code == 0 and "ARC-00000001 to ARC-" in made.output and (tmp_path / "new.zip").is_file()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


# -- the report -------------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("href", "src") and v]


def test_index_html_links_resolve_inside_the_bundle(bundle):
    parser = _Links()
    parser.feed((bundle / "data" / "index.html").read_text(encoding="utf-8"))
    assert len(parser.links) > 20
    for link in parser.links:
        assert not urlparse(link).scheme, link
        target = (bundle / "data" / unquote(link)).resolve()
        assert target.is_file() and target.is_relative_to(bundle.resolve()), link
    assert "<script" not in (bundle / "data" / "index.html").read_text(encoding="utf-8")
    svg = (bundle / "data" / "crossrefs.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "ARC-00000001" in svg and "CR-2024-0142" in svg


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/setup installs it)")
def test_index_html_renders_in_headless_chromium_without_console_errors(bundle, tmp_path):
    page = (bundle / "data" / "index.html").resolve().as_uri()
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", page], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert errors == []
    assert 'id="documents-table"' in done.stdout and "ARC-00000011" in done.stdout
    assert 'src="crossrefs.svg"' in done.stdout


# -- numbering -------------------------------------------------------------------------------------


def _doc(doc_id: int, date: str | None, filename: str | None) -> Document:
    return Document(doc_id, f"{doc_id:064x}", 10, "email" if filename and filename.endswith(".eml") else "pdf",
                    "application/pdf", "indexed", None, None, None, None, None, None, date, 1, 0, filename,
                    "2025-01-01T00:00:00+00:00", None, {})


class _Catalog:
    def __init__(self, docs, attachments):
        self.docs, self.attachments = {d.id: d for d in docs}, attachments

    def documents(self, ids):
        return {i: self.docs[i] for i in ids}

    def attachments_of(self, message_id):
        return [(a, "x") for a in self.attachments.get(message_id, [])]

    def first_sources(self, ids):
        return {i: f"/inbox/doc{i}.bin" for i in ids}


def test_families_are_numbered_depth_first_right_after_their_e_mail():
    docs = [_doc(1, "2024-05-01", "late.pdf"), _doc(2, "2024-02-01", "mail.eml"), _doc(3, "2024-09-09", "a.pdf"),
            _doc(4, "2024-01-01", "inner.eml"), _doc(5, None, "../../etc/passwd"), _doc(6, "2024-01-05", None)]
    items = number(_Catalog(docs, {2: [3, 4], 4: [5]}), [1, 2, 3, 4, 5, 6], "ARC", 4)
    assert [(i.control_number, i.doc.id, i.parent) for i in items] == [
        ("ARC-0001", 6, None), ("ARC-0002", 2, None), ("ARC-0003", 3, "ARC-0002"), ("ARC-0004", 4, "ARC-0002"),
        ("ARC-0005", 5, "ARC-0004"), ("ARC-0006", 1, None)]
    assert {i.family for i in items[1:5]} == {("ARC-0002", "ARC-0005")} and items[0].family == ("ARC-0001",) * 2
    assert items[1].attachments == ("ARC-0003", "ARC-0004") and items[3].attachments == ("ARC-0005",)
    assert items[4].native == "natives/ARC-0005_passwd.pdf" and items[0].native == "natives/ARC-0001_doc6.bin"
