"""OCR: scanned, signed approvals are as searchable as typed ones."""
from __future__ import annotations

import os

import pytest
from PIL import Image
from pypdf import PdfWriter

from archiver import ocr
from tests.makers import make_image_only_pdf, make_pdf, render_scan

pytestmark = pytest.mark.skipif(ocr.engine_version() is None, reason="Tesseract is not installed")

A5 = (1748, 2480)
PAGES = {
    "approval": ["APPROVAL OF CHANGE REQUEST CR-2024-0142", "Product WX-100 housing redesign",
                 "The change is approved for implementation.", "Signed: Dana Whitfield, Product Manager",
                 "Date: 18 March 2024"],
    "sideways": ["DELIVERY NOTE 55812 FROM ACME CASTINGS", "Forty aluminium housings received in good order",
                 "Stamped and checked by goods inward"],
    "tiff1": ["Page one of the supplier audit report", "Welding procedures were reviewed in detail"],
    "tiff2": ["Page two lists the corrective actions", "Calibration records must be kept for ten years"],
    "tiff3": ["Page three closes the audit", "The auditor recommends quarterly surveillance visits"],
    "pdfscan": ["MARKED-UP DRAWING DWG-3310 REV A", "Fillet radius increased to four millimetres",
                "Initialled by the design engineer"],
    "mixedscan": ["HANDWRITTEN ANNEX TO THE MEETING MINUTES", "Lubrication interval extended to six months"],
    "upside": ["GOODS RECEIPT FOR GEARBOX HOUSINGS", "Fed into the scanner upside down by mistake"],
}


def scan(key, angle=1.5, noise=0.002, seed=1):
    return render_scan(PAGES[key], size=A5, angle=angle, noise=noise, seed=seed)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """An archive holding every kind of scan, ingested once for all tests here."""
    from archiver import Archive
    root = tmp_path_factory.mktemp("ocr")
    inbox = root / "inbox"
    inbox.mkdir()
    scan("approval").save(inbox / "approval.png", dpi=(300, 300))
    scan("sideways", angle=0).rotate(90, expand=True).save(inbox / "sideways.jpg", dpi=(300, 300), quality=90)
    scan("upside", angle=0.5).rotate(180).save(inbox / "upside.png", dpi=(300, 300))
    frames = [scan(k, angle=-1.0, seed=i) for i, k in enumerate(("tiff1", "tiff2", "tiff3"))]
    frames[0].save(inbox / "audit.tiff", save_all=True, append_images=frames[1:], dpi=(300, 300),
                   compression="tiff_lzw")
    make_image_only_pdf(inbox / "drawing.pdf", scan("pdfscan", angle=2.0))
    text_part = make_pdf(root / "typed.pdf", ["Typed minutes of the design review meeting."])
    scan_part = make_image_only_pdf(root / "annex.pdf", scan("mixedscan"))
    writer = PdfWriter()
    writer.append(str(text_part))
    writer.append(str(scan_part))
    writer.write(inbox / "minutes.pdf")
    archive = Archive.init(root / "archive")
    report = archive.ingest([inbox])
    yield archive, {os.path.basename(r.source): r for r in report.results}, report
    archive.close()


def test_every_scan_is_read_and_indexed(scanned):
    archive, results, report = scanned
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(
        ["approval.png", "sideways.jpg", "upside.png", "audit.tiff", "drawing.pdf", "minutes.pdf"], "indexed")
    assert report.ocr.pages == 1 + 1 + 1 + 3 + 1 + 1 and report.ocr.failed_pages == 0


@pytest.mark.parametrize("query,name", [
    ('"approved for implementation"', "approval.png"),
    ("CR-2024-0142", "approval.png"),
    ('"Dana Whitfield"', "approval.png"),
    ('"aluminium housings received"', "sideways.jpg"),
    ('"upside down by mistake"', "upside.png"),
    ('"welding procedures"', "audit.tiff"),
    ('"calibration records"', "audit.tiff"),
    ('"quarterly surveillance visits"', "audit.tiff"),
    ('"fillet radius"', "drawing.pdf"),
    ("DWG-3310", "drawing.pdf"),
    ('"lubrication interval"', "minutes.pdf"),
    ('"typed minutes"', "minutes.pdf"),
])
def test_distinctive_phrases_are_found_by_search(scanned, query, name):
    archive, results, _ = scanned
    hits, _ = archive.search(query)
    assert [h.doc_id for h in hits] == [results[name].doc_id]


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@pytest.mark.parametrize("name,page,key", [
    ("approval.png", 1, "approval"), ("sideways.jpg", 1, "sideways"), ("upside.png", 1, "upside"), ("audit.tiff", 1, "tiff1"),
    ("audit.tiff", 2, "tiff2"), ("audit.tiff", 3, "tiff3"), ("drawing.pdf", 1, "pdfscan"),
    ("minutes.pdf", 2, "mixedscan"),
])
def test_character_accuracy_is_above_95_percent(scanned, name, page, key):
    archive, results, _ = scanned
    pages = archive.text(str(results[name].doc_id)).split("\f")
    read = " ".join(pages[page - 1].split())
    truth = " ".join(" ".join(PAGES[key]).split())
    accuracy = 1 - _distance(read, truth) / len(truth)
    assert accuracy > 0.95, f"{name} page {page}: {accuracy:.3f}\n{read}"


def test_ocr_details_per_page_are_kept(scanned):
    archive, results, _ = scanned
    view = archive.show(str(results["audit.tiff"].doc_id))
    assert view.ocr["pages"] == 3
    assert view.ocr["engine"] == f"tesseract {ocr.engine_version()}"
    assert view.ocr["languages"] == "eng"
    assert 80 < view.ocr["mean_confidence"] <= 100
    sideways = archive.show(str(results["sideways.jpg"].doc_id))
    assert sideways.text_start.startswith("DELIVERY NOTE 55812")   # read the right way up
    assert sideways.ocr["mean_confidence"] > 80
    rotations = {name: [e["detail"]["rotation"] for e in archive.catalog.audit_events(results[name].doc_id)
                        if e["action"] == "ocr.page"] for name in ("sideways.jpg", "upside.png", "approval.png")}
    assert rotations == {"sideways.jpg": [90], "upside.png": [180], "approval.png": [0]}


def test_only_pages_without_text_are_read_in_a_mixed_pdf(scanned):
    archive, results, _ = scanned
    sources = archive.catalog.db.execute("SELECT number, source FROM pages WHERE doc_id=? ORDER BY number",
                                         (results["minutes.pdf"].doc_id,)).fetchall()
    assert [tuple(r) for r in sources] == [(1, "text"), (2, "ocr")]
    assert archive.show(str(results["minutes.pdf"].doc_id)).ocr["pages"] == 1


def test_reindex_never_runs_ocr_again(scanned, monkeypatch):
    archive, results, _ = scanned

    def no_ocr(*args):
        raise AssertionError("OCR ran again")
    monkeypatch.setattr("archiver.ocr.ocr_page", no_ocr)
    archive.reindex()
    assert [h.doc_id for h in archive.search('"fillet radius"')[0]] == [results["drawing.pdf"].doc_id]


def test_without_tesseract_scans_wait_and_ocr_reads_them_later(archive, inbox, monkeypatch):
    scan("approval").save(inbox / "approval.png")
    (inbox / "typed.txt").write_text("Typed note about the housing.\n")
    monkeypatch.setattr("archiver.ocr.engine_version", lambda: None)
    report = archive.ingest([inbox])
    assert {os.path.basename(r.source): r.status for r in report.results} == {
        "approval.png": "waiting_ocr", "typed.txt": "indexed"}
    assert report.ocr.warning.startswith("Tesseract is not installed")
    assert archive.search("housing")[1] == 1
    assert archive.status().by_state == {"indexed": 1, "waiting_ocr": 1}
    monkeypatch.undo()
    later = archive.ocr()
    assert (later.documents, later.pages, later.warning) == (1, 1, None)
    assert archive.status().by_state == {"indexed": 2}
    assert len(archive.search('"approved for implementation"')[0]) == 1


def test_a_missing_language_is_named_with_its_package(archive, inbox):
    toml = archive.root / "archive.toml"
    toml.write_text(toml.read_text().replace('languages = ["eng"]', 'languages = ["eng", "xyz"]'))
    from archiver import Archive
    reopened = Archive(archive.root)
    scan("approval").save(inbox / "approval.png")
    report = reopened.ingest([inbox])
    assert report.ocr.warning == ("Tesseract language data missing for xyz; scans wait for OCR; "
                                  "install the Debian package(s) tesseract-ocr-xyz, then run: archiver ocr")
    reopened.close()


def test_low_confidence_scans_are_listed_by_status(archive, inbox):
    toml = archive.root / "archive.toml"
    toml.write_text(toml.read_text().replace("low_confidence = 60.0", "low_confidence = 100.0"))
    from archiver import Archive
    reopened = Archive(archive.root)
    scan("approval", noise=0.03).save(inbox / "smudged.png")
    [result] = reopened.ingest([inbox]).results
    low = reopened.status().low_confidence
    assert [doc_id for doc_id, _, _ in low] == [result.doc_id]
    assert 0 < low[0][2] < 100
    reopened.close()


def test_huge_images_are_refused_not_decoded(archive, inbox):
    toml = archive.root / "archive.toml"
    toml.write_text(toml.read_text().replace("max_image_pixels = 200000000", "max_image_pixels = 1000000"))
    from archiver import Archive
    reopened = Archive(archive.root)
    Image.new("L", (3000, 3000), 255).save(inbox / "poster.png")
    [result] = reopened.ingest([inbox]).results
    assert result.status == "rejected"
    assert result.reason.startswith("image too large")
    assert reopened.store.has(result.sha256)
    reopened.close()
