"""Check raster images with Pillow and list their pages (frames) for OCR; no OCR happens here."""
from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from archiver.errors import ExtractionError
from archiver.extract import Limits, register
from archiver.records import Extraction, Page

# Frames of TIFF files are pages; frames of GIF, WebP, APNG or MPO are views of one picture.
_PAGED_FORMATS = {"TIFF"}
_BOMB_SIZE = re.compile(r"\((\d+) pixels\)")
# Only the decoders we mean to use: never EPS (Ghostscript) or other exotic plugins.
_FORMATS = ("PNG", "JPEG", "TIFF", "GIF", "BMP", "WEBP")


@contextlib.contextmanager
def _pixel_limit(limit: int) -> Iterator[None]:
    """Set Pillow's decompression-bomb guard to our limit and make its warning an error.

    Image.MAX_IMAGE_PIXELS is process-wide: extraction runs one file at a time per process.
    """
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _too_large(pixels: int | None, limit: int) -> ExtractionError:
    size = f"{pixels} pixels" if pixels else "more pixels"
    return ExtractionError(f"image too large: {size} (limit {limit})")


def _inspect(image: Any, limits: Limits) -> tuple[int, list[str]]:
    """Load every page-frame to prove it decodes; return the page count and warnings."""
    frames = getattr(image, "n_frames", 1) or 1
    pages = frames if image.format in _PAGED_FORMATS else 1
    notes: list[str] = []
    if pages > limits.max_pages:
        notes.append(f"only the first {limits.max_pages} of {pages} pages were read")
        pages = limits.max_pages
    for index in range(pages):
        image.seek(index)
        if image.width * image.height > limits.max_image_pixels:
            raise _too_large(image.width * image.height, limits.max_image_pixels)
        image.load()
    image.seek(0)
    return pages, notes


def _metadata(image: Any, frames: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "format": image.format,
        "width": image.width,
        "height": image.height,
        "mode": image.mode,
        "frames": frames,
    }
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2:
        with contextlib.suppress(TypeError, ValueError, ZeroDivisionError):
            metadata["dpi"] = [round(float(dpi[0]), 2), round(float(dpi[1]), 2)]
    return metadata


def _read(path: Path, limits: Limits) -> tuple[int, dict[str, Any], list[str]]:
    """Open and fully decode the image; return its page count, metadata and warnings."""
    Image.init()   # register every plugin, or `formats=` may name one not loaded yet
    with _pixel_limit(limits.max_image_pixels), Image.open(path, formats=_FORMATS) as image:
        pages, notes = _inspect(image, limits)
        return pages, _metadata(image, getattr(image, "n_frames", 1) or 1), notes


class ImageExtractor:
    """Read raster images: one empty page per page-frame, every page waiting for OCR."""

    name = "image"
    mime_types = ("image/png", "image/jpeg", "image/tiff", "image/gif", "image/bmp", "image/webp")
    score = 10

    def extract(self, path: Path, limits: Limits) -> Extraction:
        """Verify the image decodes within the pixel limit and list its pages for OCR."""
        if Path(path).stat().st_size == 0:
            raise ExtractionError("empty file")
        try:
            pages, metadata, notes = _read(Path(path), limits)
        except ExtractionError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            match = _BOMB_SIZE.search(str(exc))
            raise _too_large(int(match.group(1)) if match else None, limits.max_image_pixels) from exc
        except UnidentifiedImageError as exc:
            raise ExtractionError("not a readable image: format not recognised") from exc
        except Exception as exc:  # noqa: BLE001 - decoders raise OSError, SyntaxError, ValueError...
            raise ExtractionError(f"corrupt image: {exc}") from exc
        numbers = tuple(range(1, pages + 1))
        return Extraction(
            pages=tuple(Page(number=n, text="", source="none") for n in numbers),
            page_count=pages,
            metadata=metadata,
            warnings=tuple(notes),
            needs_ocr=numbers,
        )


register(ImageExtractor())
