"""Measure the floor: the raw components alone on the same files, with the same number of workers.

- extraction: pypdf (text of every page), python-docx (paragraphs and table
  cells), the standard ``email`` package (body, and each attachment through the
  extractor of its type), plain reads for text; a ``multiprocessing`` pool;
- indexing: Whoosh through ``indexes.fulltext.FulltextIndex`` (archiver's own
  schema and analyzers) of the already extracted texts, in a fresh index;
- OCR: ``pytesseract.image_to_string`` per scanned page, a pool of ``cores``
  workers with ``OMP_THREAD_LIMIT=1``.

The ingest floor is extraction + indexing: what any tool built from these
components must spend at least.
"""
from __future__ import annotations

import email
import email.policy
import io
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.stats import rate


def _pdf_text(source) -> tuple[str, str]:
    from pypdf import PdfReader
    reader = PdfReader(source)
    title = (reader.metadata or {}).get("/Title") or ""
    return str(title), "\f".join(page.extract_text() or "" for page in reader.pages)


def _docx_text(source) -> tuple[str, str]:
    import docx
    document = docx.Document(source)
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text for cell in row.cells))
    return document.core_properties.title or "", "\n".join(lines)


def _mail_texts(path: Path) -> list[tuple[str, str, str]]:
    with open(path, "rb") as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain", "html"))
    out = [(path.name, str(msg["subject"] or ""), body.get_content() if body else "")]
    for part in msg.iter_attachments():
        data = part.get_content()
        name = part.get_filename() or "attachment"
        reader = _pdf_text if name.lower().endswith(".pdf") else _docx_text
        out.append((name, *reader(io.BytesIO(data))))
    return out


def extract_file(path: str) -> list[tuple[str, str, str, str]]:
    """Return (filename, format, title, text) for a file and, for an e-mail, each attachment."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".pdf":
        return [(p.name, "pdf", *_pdf_text(p))]
    if suffix == ".docx":
        return [(p.name, "docx", *_docx_text(p))]
    if suffix == ".eml":
        return [(name, "email" if i == 0 else name.rsplit(".", 1)[-1], title, text)
                for i, (name, title, text) in enumerate(_mail_texts(p))]
    return [(p.name, "text", "", p.read_text(encoding="utf-8"))]


def _files(folder: Path) -> list[str]:
    return sorted(str(Path(d) / f) for d, _, names in os.walk(folder) for f in names)


def extraction(folder: Path, workers: int) -> tuple[dict, list[tuple[str, str, str, str]]]:
    """Extract every file under ``folder`` with a pool of ``workers``; return timings and the texts."""
    files = _files(folder)
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.map(extract_file, files, chunksize=8)
    wall = time.perf_counter() - start
    records = [record for rows in results for record in rows]
    size = sum(os.path.getsize(f) for f in files)
    return ({"wall_s": round(wall, 3), "workers": workers, "files": len(files), "documents": len(records),
             "files_per_s": rate(len(files), wall), "documents_per_s": rate(len(records), wall),
             "mb_per_s": rate(size / 1e6, wall), "text_mb": round(sum(len(r[3]) for r in records) / 1e6, 2)},
            records)


def indexing(records: list[tuple[str, str, str, str]], workdir: Path) -> dict:
    """Index already extracted texts with archiver's Whoosh schema in a fresh index; time it."""
    from indexes.fulltext import FulltextIndex, IndexRecord
    folder = Path(tempfile.mkdtemp(prefix="floor-index-", dir=workdir))
    try:
        index = FulltextIndex(folder / "index")
        start = time.perf_counter()
        index.create()
        with index.writer() as w:
            for doc_id, (name, fmt, title, text) in enumerate(records, start=1):
                w.add(IndexRecord(doc_id=doc_id, title=title, content=text, filename=name, format=fmt,
                                  size=len(text)))
        wall = time.perf_counter() - start
        from bench.measure import tree_bytes
        size = tree_bytes(folder / "index")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"wall_s": round(wall, 3), "documents": len(records), "documents_per_s": rate(len(records), wall),
            "index_mb": round(size / 1e6, 2)}


def _ocr_init() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"


def ocr_page(path: str) -> tuple[float, int]:
    """Read one page image with Tesseract alone; return its wall time and the characters read."""
    import pytesseract
    from PIL import Image
    start = time.perf_counter()
    with Image.open(path) as image:
        text = pytesseract.image_to_string(image, lang="eng")
    return time.perf_counter() - start, len(text)


def tesseract(folder: Path, cores: int) -> dict:
    """OCR every page under ``folder`` with Tesseract alone in a pool of ``cores`` workers."""
    pages = _files(folder) if Path(folder).is_dir() else []
    if not pages:
        return {"available": False, "pages": 0, "reason": "no scans in the corpus"}
    if shutil.which("tesseract") is None:
        return {"available": False, "pages": len(pages), "reason": "Tesseract is not installed"}
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(cores, initializer=_ocr_init) as pool:
        results = pool.map(ocr_page, pages, chunksize=1)
    wall = time.perf_counter() - start
    per_page = sum(t for t, _ in results) / len(results)
    return {"available": True, "wall_s": round(wall, 3), "pages": len(pages), "workers": cores,
            "pool_pages_per_min": round(60 * len(pages) / wall, 2), "mean_page_s": round(per_page, 3),
            "single_pages_per_min": round(60 / per_page, 2),
            "ideal_pages_per_min": round(60 / per_page * cores, 2),
            "chars": sum(c for _, c in results)}


def floor(corpus: Path, workdir: Path, workers: int, cores: int) -> dict:
    """Measure extraction, indexing and OCR alone; the ingest floor is extraction + indexing."""
    extract, records = extraction(Path(corpus) / "electronic", workers)
    index = indexing(records, Path(workdir))
    del records
    ingest_wall = extract["wall_s"] + index["wall_s"]
    return {"extract": extract, "index": index,
            "ingest": {"wall_s": round(ingest_wall, 3), "files_per_s": rate(extract["files"], ingest_wall),
                       "documents_per_s": rate(extract["documents"], ingest_wall)},
            "tesseract": tesseract(Path(corpus) / "scans", cores)}
