"""Keep the registry of extractors and pick the best one for a file's MIME type.

Like paperless-ngx's parser registry: each extractor declares the MIME types it
handles and a score; the highest score wins. The built-in extractors register
themselves through the same :func:`register` a third-party one would use.
Extractors are pure: a path in, an :class:`~archiver.records.Extraction` out.
They never touch the catalog, and they raise
:class:`~archiver.errors.ExtractionError` with a one-line reason on bad input.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from archiver.errors import ExtractionError
from archiver.records import Extraction


@dataclass(frozen=True)
class Limits:
    """Bounds an extractor must respect while reading one file."""

    max_text_chars: int = 50_000_000      # stop collecting text past this
    max_pages: int = 20_000
    max_image_pixels: int = 200_000_000   # Pillow's decompression-bomb guard
    max_inflated_bytes: int = 500_000_000  # zip members (DOCX) after inflation


@runtime_checkable
class Extractor(Protocol):
    """The contract every extractor fulfils."""

    name: str
    mime_types: tuple[str, ...]
    score: int

    def extract(self, path: Path, limits: Limits) -> Extraction:
        """Read one file and return its text per page and its metadata."""
        ...


_REGISTRY: list[Extractor] = []


def register(extractor: Extractor) -> Extractor:
    """Add an extractor to the registry and return it (usable as a decorator on instances)."""
    if not isinstance(extractor, Extractor):
        raise TypeError(f"{extractor!r} does not fulfil the Extractor protocol")
    _REGISTRY.append(extractor)
    return extractor


def registered() -> tuple[Extractor, ...]:
    """Return every registered extractor, built-in ones first."""
    _load_builtins()
    return tuple(_REGISTRY)


def for_mime(mime: str) -> Extractor | None:
    """Return the highest-scoring extractor for a MIME type, or None."""
    candidates = [e for e in registered() if mime in e.mime_types]
    return max(candidates, key=lambda e: e.score, default=None)


def extract(path: Path, mime: str, limits: Limits | None = None) -> Extraction:
    """Extract one file with the best extractor for its MIME type."""
    extractor = for_mime(mime)
    if extractor is None:
        raise ExtractionError(f"no extractor for {mime}")
    return extractor.extract(Path(path), limits or Limits())


_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    # Imported for their register() calls.
    from archiver.extract import csvfile, docx, html, image, mail, pdf, text  # noqa: F401
