"""Define the frozen records that flow between archiver's stages and modules."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

Progress = Callable[[int, int, str], None]   # (done, total, what) for progress bars


@dataclass(frozen=True)
class Page:
    """The text of one page (or the whole text of a format without pages)."""

    number: int
    text: str
    source: str = "text"          # "text" (text layer), "ocr", or "none" (waiting for OCR)
    confidence: float | None = None
    engine: str | None = None
    languages: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file carried inside another one (an e-mail attachment)."""

    name: str                     # as given by the sender: data, never a path
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Extraction:
    """What an extractor read from one file: text per page, metadata, warnings."""

    pages: tuple[Page, ...]
    title: str | None = None
    author: str | None = None
    subject: str | None = None
    keywords: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    page_count: int | None = None
    metadata: dict = field(default_factory=dict)   # format-specific, JSON-serialisable
    warnings: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    needs_ocr: tuple[int, ...] = ()               # page numbers with no text layer

    @property
    def text(self) -> str:
        """Return the whole text, pages separated by form feeds."""
        return "\f".join(p.text for p in self.pages)


@dataclass(frozen=True)
class Sniffed:
    """The format of a file as decided by its content."""

    format: str                   # pdf, docx, text, markdown, html, csv, email, image, unknown
    mime: str
    description: str = ""         # what the content is, for messages


@dataclass(frozen=True)
class Document:
    """One stored original and what the catalog knows of it."""

    id: int
    sha256: str
    size: int
    format: str
    mime: str
    state: str                    # indexed, waiting_ocr, rejected
    title: str | None
    author: str | None
    subject: str | None
    keywords: str | None
    created: str | None           # ISO 8601, UTC
    modified: str | None
    date: str | None              # the document's best date (sent, else created, else modified)
    pages: int | None
    text_length: int
    filename: str | None          # the name it arrived with
    ingested_at: str
    reason: str | None            # why it was rejected, if it was
    metadata: dict
    doc_number: str | None = None  # its own controlled number, e.g. SPEC-104
    revision: str | None = None


@dataclass(frozen=True)
class Source:
    """One place a document's content was seen."""

    path: str
    size: int
    mtime_ns: int
    first_seen: str
    last_seen: str
    status: str                   # present, gone


@dataclass(frozen=True)
class IngestResult:
    """The outcome for one input: the JSON row of `archiver ingest`."""

    source: str
    sha256: str | None
    doc_id: int | None
    status: str                   # indexed, waiting_ocr, duplicate, unchanged, rejected
    reason: str | None = None
    format: str | None = None
    warnings: tuple[str, ...] = ()
    parent: int | None = None     # for attachments: the message's doc_id


@dataclass(frozen=True)
class Reject:
    """An input that could not be read, and why."""

    id: int
    path: str
    sha256: str | None
    doc_id: int | None
    reason: str
    at: str


@dataclass(frozen=True)
class SearchHit:
    """One ranked search result."""

    doc_id: int
    sha256: str
    title: str
    source: str | None
    format: str
    date: str | None
    score: float
    snippet: str
