"""Extract the text (body, tables, headers, footers, text boxes, content controls) and core properties of DOCX files."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT

from archiver.errors import ExtractionError
from archiver.extract import Limits, register
from archiver.extract.pdf import as_utc
from archiver.extract.text import truncate
from archiver.records import Extraction, Page

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
# Wrappers whose children belong to the enclosing block, row or run level.
_WRAPPERS = {f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}smartTag"}
_INLINE_TEXT = {f"{_W}tab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n",
                f"{_W}noBreakHyphen": "-", f"{_W}softHyphen": ""}
_SKIPPED = {f"{_W}del", f"{_W}moveFrom", f"{_W}sdtPr", f"{_W}sdtEndPr", f"{_W}rPr", f"{_W}pPr",
            f"{_W}tblPr", f"{_W}trPr", f"{_W}tcPr", f"{_W}instrText"}
_MAIN_PART = "word/document.xml"
_MAX_RATIO = 200            # inflated/compressed; ordinary DOCX XML stays well under 50
_RATIO_FLOOR = 1_000_000    # small members may compress as they like
_CHUNK = 1 << 20


def load_package(path: Path, limits: Limits) -> io.BytesIO:
    """Check a DOCX zip and return an uncompressed copy of its XML parts for python-docx.

    Declared sizes are checked first. Then only the XML parts are inflated, in
    chunks, which zipfile stops at the declared size (a whole-member ``read()``,
    as python-docx does, inflates everything before cutting it to that size).
    Other parts (images, fonts, embeddings) become empty: they are never inflated.

    Raises:
        ExtractionError: Not a zip, no word/document.xml, a zip bomb, or a corrupt part.
    """
    copy = io.BytesIO()
    try:
        with zipfile.ZipFile(path) as archive, zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as out:
            members = archive.infolist()
            _check_declared(members, limits)
            written: set[str] = set()
            for member in members:
                if member.is_dir() or member.filename in written:
                    continue
                written.add(member.filename)
                xml = member.filename.lower().endswith((".xml", ".rels"))
                out.writestr(member.filename, _inflate(archive, member) if xml else b"")
    except ExtractionError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile raises BadZipFile, OSError, EOFError, zlib.error...
        raise ExtractionError(f"not a valid DOCX: {_short(exc)}") from exc
    copy.seek(0)
    return copy


def _inflate(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    chunks = []
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            chunks.append(chunk)
    return b"".join(chunks)


def _check_declared(members: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Check the main part is there and the declared sizes and compression ratios are sane."""
    if _MAIN_PART not in {m.filename for m in members}:
        raise ExtractionError(f"not a valid DOCX: {_MAIN_PART} missing")
    declared = sum(m.file_size for m in members)
    if declared > limits.max_inflated_bytes:
        raise ExtractionError(f"DOCX zip bomb: declares {declared} bytes (limit {limits.max_inflated_bytes})")
    for member in members:
        if member.file_size > _RATIO_FLOOR and member.file_size > _MAX_RATIO * max(member.compress_size, 1):
            raise ExtractionError(
                f"DOCX zip bomb: declares {member.file_size} bytes for {member.filename!r}"
                f" from {member.compress_size} compressed bytes"
            )


def _children(element: Any) -> Iterator[Any]:
    """Yield an element's children, looking through content controls and other wrappers."""
    for child in element:
        if not isinstance(child.tag, str) or child.tag in _SKIPPED:
            continue
        if child.tag in _WRAPPERS:
            yield from _children(child)
        elif child.tag == f"{_MC}AlternateContent":
            chosen = _choose(child)
            if chosen is not None:
                yield from _children(chosen)
        else:
            yield child


def _choose(alternate: Any) -> Any:
    """Pick one branch of mc:AlternateContent: Word writes text boxes twice (DrawingML and VML)."""
    for tag in (f"{_MC}Choice", f"{_MC}Fallback"):
        branch = alternate.find(tag)
        if branch is not None:
            return branch
    return None


def blocks(container: Any) -> Iterator[str]:
    """Yield one line per paragraph or table row of a body, cell, header, footer or text box, in order."""
    for child in _children(container):
        if child.tag == f"{_W}p":
            yield from _paragraph(child)
        elif child.tag == f"{_W}tbl":
            yield from _table(child)


def _paragraph(paragraph: Any) -> Iterator[str]:
    """Yield a paragraph's own text, then the text of the text boxes anchored in it."""
    parts: list[str] = []
    boxes: list[Any] = []
    _inline(paragraph, parts, boxes)
    yield "".join(parts)
    for box in boxes:
        yield from blocks(box)


def _inline(element: Any, parts: list[str], boxes: list[Any]) -> None:
    for child in _children(element):
        if child.tag == f"{_W}t":
            parts.append(child.text or "")
        elif child.tag in _INLINE_TEXT:
            parts.append(_INLINE_TEXT[child.tag])
        elif child.tag == f"{_W}txbxContent":
            boxes.append(child)
        else:
            _inline(child, parts, boxes)


def _table(table: Any) -> Iterator[str]:
    """Yield one line per row, cells joined by " | ".

    Walking the XML visits each w:tc once: python-docx's ``row.cells`` repeats a
    horizontally merged cell for every grid column it spans. Vertically merged
    continuation cells hold no text and are skipped.
    """
    for row in _children(table):
        if row.tag != f"{_W}tr":
            continue
        cells = [" ".join(line for line in blocks(cell) if line.strip())
                 for cell in _children(row) if cell.tag == f"{_W}tc" and not _continues_merge(cell)]
        if any(cells):
            yield " | ".join(cells)


def _continues_merge(cell: Any) -> bool:
    merge = cell.find(f"{_W}tcPr/{_W}vMerge")
    return merge is not None and merge.get(f"{_W}val", "continue") == "continue"


def _headers_footers(document: Any) -> tuple[list[str], list[str]]:
    """Return the lines of every header and every footer part, each part once, in section order."""
    related = document.part.related_parts
    seen: set[str] = set()
    headers: list[str] = []
    footers: list[str] = []
    for sect_pr in document.element.body.iter(f"{_W}sectPr"):
        for reference in sect_pr:
            rid = reference.get(f"{_R}id")
            if reference.tag not in (f"{_W}headerReference", f"{_W}footerReference") or rid in seen:
                continue
            seen.add(rid)
            part = related.get(rid)
            if part is not None:
                target = headers if reference.tag == f"{_W}headerReference" else footers
                target.extend(blocks(part.element))
    return headers, footers


def _core_properties(document: Any, warnings: list[str]) -> dict[str, Any]:
    """Read the core properties, only if the package has them (python-docx invents defaults otherwise)."""
    try:
        part = document.part.package.part_related_by(RT.CORE_PROPERTIES)
    except KeyError:
        return {}
    props = part.core_properties
    found: dict[str, Any] = {name: (getattr(props, name) or "").strip() or None for name in
                             ("title", "author", "subject", "keywords", "last_modified_by", "category")}
    found["revision"] = props.revision or None
    for name in ("created", "modified"):
        found[name] = _core_date(props, name, warnings)
    return found


def _core_date(props: Any, name: str, warnings: list[str]) -> datetime | None:
    moment = getattr(props, name)
    if isinstance(moment, datetime):
        return as_utc(moment)
    # python-docx returns None for an unparseable date; its raw text tells us it was malformed.
    element = getattr(props._element, name, None)  # noqa: SLF001 - no public access to the raw value
    raw = (element.text or "").strip() if element is not None else ""
    if raw:
        warnings.append(f"malformed {name} date ignored: {raw[:60]!r}")
    return None


def _open(package: io.BytesIO) -> Any:
    try:
        return docx.Document(package)
    except Exception as exc:  # noqa: BLE001 - broken packages raise zlib, lxml, KeyError, ValueError...
        raise ExtractionError(f"not a valid DOCX: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


class DocxExtractor:
    """Read Word (.docx) documents as one page of text, with their core properties."""

    name = "docx"
    mime_types = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
    score = 10

    def extract(self, path: Path, limits: Limits) -> Extraction:
        """Check the zip, then read headers, body and footers in order, and the core properties."""
        if Path(path).stat().st_size == 0:
            raise ExtractionError("empty file")
        document = _open(load_package(Path(path), limits))
        warnings: list[str] = []
        try:
            headers, footers = _headers_footers(document)
            body = list(blocks(document.element.body))
            props = _core_properties(document, warnings)
        except RecursionError as exc:
            raise ExtractionError("not a valid DOCX: content nested too deeply") from exc
        except Exception as exc:  # noqa: BLE001 - malformed parts fail in many ways
            raise ExtractionError(f"not a valid DOCX: {_short(exc)}") from exc
        lines = [line for line in headers + body + footers if line.strip()]
        text, cut = truncate("\n".join(lines), limits)
        return Extraction(
            pages=(Page(number=1, text=text),),
            title=props.get("title"),
            author=props.get("author"),
            subject=props.get("subject"),
            keywords=props.get("keywords"),
            created=props.get("created"),
            modified=props.get("modified"),
            metadata={key: props.get(key) for key in ("revision", "last_modified_by", "category")},
            warnings=tuple(warnings) + cut,
        )


register(DocxExtractor())
