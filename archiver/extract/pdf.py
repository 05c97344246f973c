"""Extract the text layer of each PDF page and the document metadata with pypdf."""
from __future__ import annotations

import contextlib
import mmap
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError
from pypdf.generic import IndirectObject

from archiver.errors import ExtractionError
from archiver.extract import Limits, register
from archiver.records import Extraction, Page

_PASSWORD_REQUIRED = "encrypted PDF (password required)"
_PDF_DATE = re.compile(
    r"(?:D:)?(?P<Y>\d{4})(?P<m>\d{2})?(?P<d>\d{2})?(?P<H>\d{2})?(?P<M>\d{2})?(?P<S>\d{2})?"
    r"(?:\.\d+)?\s*(?:(?P<z>[Zz])(?:00'?00'?)?|(?P<sign>[+\-])(?P<oh>\d{2})'?(?:(?P<om>\d{2})'?)?)?"
)
_INFO_FIELDS = {"title": "/Title", "author": "/Author", "subject": "/Subject", "keywords": "/Keywords"}
_INFO_DATES = {"created": "/CreationDate", "modified": "/ModDate"}


def parse_pdf_date(value: str) -> datetime:
    """Parse a PDF date ("D:20230412101500+02'00'") or an ISO 8601 one into an aware UTC datetime.

    A date without a time zone is taken as UTC.

    Raises:
        ValueError: The string is not a date.
    """
    text = value.strip().rstrip("\x00").strip()
    match = _PDF_DATE.fullmatch(text)
    if match is None:
        try:
            return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"not a date: {value!r}") from None
    parts = [int(match.group(key) or default) for key, default in
             (("Y", 0), ("m", 1), ("d", 1), ("H", 0), ("M", 0), ("S", 0))]
    moment = datetime(*parts, tzinfo=timezone.utc)
    if match.group("sign"):
        offset = timedelta(hours=int(match.group("oh")), minutes=int(match.group("om") or 0))
        moment = moment - offset if match.group("sign") == "+" else moment + offset
    return moment


def as_utc(moment: datetime) -> datetime:
    """Return a datetime in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@contextlib.contextmanager
def _pdf_errors() -> Iterator[None]:
    """Turn whatever pypdf raises on a bad file into an ExtractionError with a short reason."""
    try:
        yield
    except ExtractionError:
        raise
    except LimitReachedError as exc:
        raise ExtractionError(f"PDF exceeds decompression limits: {_short(exc)}") from exc
    except FileNotDecryptedError as exc:
        raise ExtractionError(_PASSWORD_REQUIRED) from exc
    except DependencyError as exc:
        raise ExtractionError(f"encrypted PDF needs a missing package: {_short(exc)}") from exc
    except Exception as exc:  # noqa: BLE001 - broken PDFs raise anything
        raise ExtractionError(f"corrupt PDF: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _check_envelope(path: Path) -> None:
    """Give a clear reason for the commonest breakages before pypdf gives an obscure one."""
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data.find(b"%PDF-", 0, 1024) < 0:
            raise ExtractionError("corrupt PDF: no %PDF- header")
        if data.rfind(b"%%EOF") < 0:
            raise ExtractionError("corrupt PDF: truncated (no %%EOF marker)")


def _open(path: Path) -> tuple[PdfReader, bool]:
    """Open a PDF, decrypting it with the empty password if needed; return it and whether it was encrypted."""
    reader = PdfReader(path, strict=False)
    if not reader.is_encrypted:
        return reader, False
    try:
        decrypted = reader.decrypt("")
    except NotImplementedError as exc:
        raise ExtractionError(f"encrypted PDF: unsupported encryption ({_short(exc)})") from exc
    if not decrypted:
        raise ExtractionError(_PASSWORD_REQUIRED)
    return reader, True


def _read_pages(reader: PdfReader, limits: Limits) -> tuple[list[Page], list[str]]:
    """Return the text of each page within the limits, and warnings."""
    total = len(reader.pages)
    pages: list[Page] = []
    warnings: list[str] = []
    if total > limits.max_pages:
        warnings.append(f"only the first {limits.max_pages} of {total} pages were read")
    budget = limits.max_text_chars
    for number in range(1, min(total, limits.max_pages) + 1):
        text = _page_text(reader, number, warnings)
        if len(text) > budget:
            if budget:
                pages.append(Page(number=number, text=text[:budget]))
            warnings.append(f"text truncated at {limits.max_text_chars} characters (page {number} of {total})")
            break
        budget -= len(text)
        pages.append(Page(number=number, text=text, source="text" if text.strip() else "none"))
    return pages, warnings


def _page_text(reader: PdfReader, number: int, warnings: list[str]) -> str:
    """Return one page's text; a page whose text layer cannot be read is left for OCR."""
    try:
        return reader.pages[number - 1].extract_text() or ""
    except LimitReachedError:
        raise
    except Exception as exc:  # noqa: BLE001 - one broken page must not lose the others
        warnings.append(f"page {number}: text layer unreadable ({_short(exc)})")
        return ""


def _guard(getter: Callable[[], Any], warnings: list[str], what: str) -> Any:
    try:
        return getter()
    except LimitReachedError:
        raise
    except Exception as exc:  # noqa: BLE001 - metadata must never fail a file
        warnings.append(f"unreadable {what}: {_short(exc)}")
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, IndirectObject):
        value = value.get_object()
    if isinstance(value, bytes):
        value = value.decode("utf-16") if value.startswith((b"\xfe\xff", b"\xff\xfe")) else value.decode("latin-1")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _info_metadata(reader: PdfReader, warnings: list[str]) -> dict[str, Any]:
    """Read the document information dictionary: texts and dates."""
    info = _guard(lambda: reader.metadata, warnings, "document information")
    if not info:
        return {}
    found: dict[str, Any] = {}
    for field, key in _INFO_FIELDS.items():
        found[field] = _guard(lambda key=key: _text(info.get(key)), warnings, f"{field} of the PDF")
    for field, key in _INFO_DATES.items():
        raw = _guard(lambda key=key: _text(info.get(key)), warnings, f"{field} date of the PDF")
        found[field] = _date(raw, field, warnings) if raw else None
    found["producer"] = _guard(lambda: _text(info.get("/Producer")), warnings, "producer")
    found["creator_tool"] = _guard(lambda: _text(info.get("/Creator")), warnings, "creator")
    return found


def _date(raw: str, field: str, warnings: list[str]) -> datetime | None:
    try:
        return parse_pdf_date(raw)
    except (ValueError, OverflowError):
        warnings.append(f"malformed {field} date ignored: {raw[:60]!r}")
        return None


def _xmp_metadata(reader: PdfReader, warnings: list[str]) -> dict[str, Any]:
    """Read the XMP packet: Dublin Core texts and XMP dates."""
    xmp = _guard(lambda: reader.xmp_metadata, warnings, "XMP metadata")
    if xmp is None:
        return {}
    found = {
        "title": _guard(lambda: _lang_alt(xmp.dc_title), warnings, "XMP title"),
        "author": _guard(lambda: _joined(xmp.dc_creator, "; "), warnings, "XMP creator"),
        "subject": _guard(lambda: _lang_alt(xmp.dc_description), warnings, "XMP description"),
        "keywords": _guard(lambda: _text(xmp.pdf_keywords) or _joined(xmp.dc_subject, ", "),
                           warnings, "XMP keywords"),
        "producer": _guard(lambda: _text(xmp.pdf_producer), warnings, "XMP producer"),
    }
    for field, getter in (("created", lambda: xmp.xmp_create_date),
                          ("modified", lambda: xmp.xmp_modify_date)):
        try:
            moment = getter()
        except Exception as exc:  # noqa: BLE001 - pypdf raises ValueError and others
            warnings.append(f"malformed XMP {field} date ignored: {_short(exc)}")
            moment = None
        found[field] = as_utc(moment) if isinstance(moment, datetime) else None
    return found


def _lang_alt(values: dict[str, str] | None) -> str | None:
    if not values:
        return None
    return _text(values.get("x-default") or next(iter(values.values()), None))


def _joined(values: list[str] | None, separator: str) -> str | None:
    items = [t for t in (_text(v) for v in values or []) if t]
    return separator.join(items) or None


def _merge(info: dict[str, Any], xmp: dict[str, Any]) -> dict[str, Any]:
    """Take each field from the information dictionary, else from XMP."""
    keys = set(info) | set(xmp)
    return {key: info.get(key) if info.get(key) is not None else xmp.get(key) for key in keys}


class PdfExtractor:
    """Read PDF files with pypdf: text per page, info and XMP metadata; pages without text wait for OCR."""

    name = "pdf"
    mime_types = ("application/pdf",)
    score = 10

    def extract(self, path: Path, limits: Limits) -> Extraction:
        """Read every page's text layer and the metadata; raise ExtractionError for an unreadable file."""
        if Path(path).stat().st_size == 0:
            raise ExtractionError("empty file")
        warnings: list[str] = []
        _check_envelope(Path(path))
        with _pdf_errors():
            reader, encrypted = _open(Path(path))
            page_count = len(reader.pages)
            pages, page_warnings = _read_pages(reader, limits)
            fields = _merge(_info_metadata(reader, warnings), _xmp_metadata(reader, warnings))
        metadata = {
            "encrypted": encrypted,
            "pdf_version": _guard(lambda: reader.pdf_header.removeprefix("%PDF-"), warnings, "PDF header"),
            "producer": fields.get("producer"),
            "creator_tool": fields.get("creator_tool"),
        }
        return Extraction(
            pages=tuple(pages),
            title=fields.get("title"),
            author=fields.get("author"),
            subject=fields.get("subject"),
            keywords=fields.get("keywords"),
            created=fields.get("created"),
            modified=fields.get("modified"),
            page_count=page_count,
            metadata=metadata,
            warnings=tuple(page_warnings + warnings),
            needs_ocr=tuple(p.number for p in pages if p.source == "none"),
        )


register(PdfExtractor())
