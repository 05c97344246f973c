"""Read scanned pages with Tesseract: orientation, text and word confidence per page.

The functions here are pure and run in worker processes (see
:mod:`archiver.workers`): a page image in, an :class:`OcrPage` out. Which pages
wait for OCR, and what becomes of the results, is :mod:`archiver.ocr_queue`'s job.
"""
from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytesseract
from PIL import Image, ImageOps, ImageSequence

from archiver.errors import ExtractionError

ENGINE = "tesseract"
MIN_OSD_CONFIDENCE = 1.0     # below this, Tesseract's orientation guess is noise
GOOD_CONFIDENCE = 70.0       # a first reading this confident needs no second look


@dataclass(frozen=True)
class OcrPage:
    """The OCR result of one page."""

    number: int
    text: str
    confidence: float | None      # mean word confidence, 0-100; None when no word was read
    engine: str                   # "tesseract 5.3.0"
    languages: str                # "eng+deu"
    rotation: int | None          # clockwise degrees the page was turned to read it; None: orientation unknown
    words: int


@lru_cache(maxsize=1)
def engine_version() -> str | None:
    """Return Tesseract's version, or None when it is not installed."""
    if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
        return None
    try:
        return str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, OSError):
        return None


def installed_languages() -> set[str]:
    """Return the Tesseract languages installed on this machine."""
    try:
        return set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractError, pytesseract.TesseractNotFoundError, OSError):
        return set()


def ocr_page(path: str, mime: str, number: int, languages: tuple[str, ...], max_pixels: int) -> OcrPage:
    """Read page ``number`` (1-based) of a stored image or PDF; runs in a worker process."""
    image = load_page_image(Path(path), mime, number, max_pixels)
    if mime in ("image/png", "image/jpeg") and not _exif_rotated(image):
        # Tesseract reads the stored file itself: no second encoding of the image.
        return read_image(image, number, languages, source=path)
    return read_image(image, number, languages)


def _exif_rotated(image: Image.Image) -> bool:
    try:
        return image.getexif().get(0x0112, 1) != 1
    except Exception:  # noqa: BLE001 - unreadable EXIF: let Pillow's copy be read
        return True


def load_page_image(path: Path, mime: str, number: int, max_pixels: int) -> Image.Image:
    """Return the image of one page: a frame of an image file, or the scan inside a PDF page."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if mime == "application/pdf":
                return _pdf_page_image(path, number)
            with Image.open(path) as img:
                for i, frame in enumerate(ImageSequence.Iterator(img), start=1):
                    if i == number:
                        return _normalise(frame.copy())
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ExtractionError(f"image too large to OCR ({exc})") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise ExtractionError(f"cannot read page {number} image: {exc}") from exc
    raise ExtractionError(f"page {number} not found")


def _pdf_page_image(path: Path, number: int) -> Image.Image:
    from pypdf import PdfReader
    try:
        page = PdfReader(path).pages[number - 1]
        images = [f.image for f in page.images]
    except Exception as exc:  # pypdf raises many types on damaged image streams
        raise ExtractionError(f"cannot take the image out of PDF page {number}: {exc}") from exc
    images = [i for i in images if i is not None]
    if not images:
        raise ExtractionError(f"PDF page {number} has neither text nor an image")
    largest = max(images, key=lambda i: i.width * i.height)
    return _normalise(largest)


def _normalise(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("L", "RGB", "1"):
        image = image.convert("RGB")
    return image


def detect_rotation(image: Image.Image) -> int | None:
    """Return the clockwise degrees that make the page upright, or None when unknown."""
    try:
        osd = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT,
                                       config="-c min_characters_to_try=10")
    except pytesseract.TesseractError:
        return None                      # too little text to tell: orientation unknown
    if float(osd.get("orientation_conf", 0)) < MIN_OSD_CONFIDENCE:
        return None
    return int(osd.get("rotate", 0)) % 360


def read_image(image: Image.Image, number: int, languages: tuple[str, ...], source: str | None = None) -> OcrPage:
    """OCR one page image the right way up.

    Most pages are upright: one plain Tesseract pass reads them (``source``, the
    stored file, spares encoding the image again). A poor reading means the page
    may be turned: Tesseract's orientation detection says how, the page is turned
    and read again, and when it cannot tell (too little text) the best of the four
    ways up wins.
    """
    lang = "+".join(languages)
    engine = f"{ENGINE} {engine_version() or 'unknown'}"
    text, conf, words = _recognise(source or image, lang)
    if conf is not None and conf >= GOOD_CONFIDENCE and words >= 3:
        return OcrPage(number, text, conf, engine, lang, 0, words)
    rotation = detect_rotation(image)
    if rotation is not None:
        if rotation:
            text, conf, words = _recognise(_turn(image, rotation), lang)
        return OcrPage(number, text, conf, engine, lang, rotation, words)
    # Orientation unknown: the way up that reads best wins (None when nothing could be read).
    best = ((conf or 0) * words, text, conf, words, 0 if words else None)
    for angle in (90, 180, 270):
        text, conf, words = _recognise(_turn(image, angle), lang)
        if (conf or 0) * words > best[0]:
            best = ((conf or 0) * words, text, conf, words, angle)
    _, text, conf, words, angle = best
    return OcrPage(number, text, conf, engine, lang, angle, words)


def _turn(image: Image.Image, clockwise: int) -> Image.Image:
    return image if clockwise == 0 else image.rotate(-clockwise, expand=True, fillcolor="white")


def _recognise(image: Image.Image | str, lang: str, config: str = "") -> tuple[str, float | None, int]:
    try:
        data = pytesseract.image_to_data(image, lang=lang, config=config, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError as exc:
        raise ExtractionError(f"Tesseract failed: {str(exc).strip()[:200]}") from exc
    lines: dict[tuple, list[str]] = {}
    confidences = []
    for i, word in enumerate(data["text"]):
        conf = float(data["conf"][i])
        if conf < 0 or not word.strip():
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append(word)
        confidences.append(conf)
    text, previous = [], None
    for key, words in lines.items():
        if previous is not None and key[:2] != previous[:2]:
            text.append("")              # a blank line between paragraphs
        text.append(" ".join(words))
        previous = key
    mean = round(sum(confidences) / len(confidences), 1) if confidences else None
    return "\n".join(text), mean, len(confidences)
