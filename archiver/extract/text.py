"""Extract plain-text and Markdown files, and decode bytes of unknown encoding for other extractors."""
from __future__ import annotations

import codecs
import re
from pathlib import Path

import charset_normalizer

from archiver.errors import ExtractionError
from archiver.extract import Limits, register
from archiver.records import Extraction, Page

# Longest first: the UTF-32 LE BOM begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\x1b")
_MAX_CONTROL_RATIO = 0.05
_UNDECODABLE = "undecodable text: not UTF-8, UTF-16 or a single-byte encoding"
_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_H1 = re.compile(r"^ {0,3}=+[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode bytes of unknown encoding.

    Tries, in order: a byte-order mark, strict UTF-8, charset-normalizer's
    guess, then CP1252 and Latin-1.

    Args:
        data: The raw bytes.

    Returns:
        The text and the name of the encoding used.

    Raises:
        ExtractionError: The bytes look binary (many control or NUL characters).
    """
    text, encoding = _decode(data)
    if _looks_binary(text):
        raise ExtractionError(_UNDECODABLE)
    return text, encoding


def _decode(data: bytes) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            # A byte-order mark is strong evidence: a few broken sequences become U+FFFD.
            return data.decode(encoding, errors="replace"), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    guessed = _guess(data)
    if guessed is not None:
        return guessed
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _guess(data: bytes) -> tuple[str, str] | None:
    """Ask charset-normalizer, preferring CP1252 among equally good guesses.

    On short Western text charset-normalizer often ranks exotic code pages
    (cp1125, cp1250...) first with the same score; those give the same or a
    worse reading, so CP1252 wins a tie.
    """
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    lowest = min(m.chaos for m in matches)
    for match in matches:
        if match.chaos <= lowest and "cp1252" in match.could_be_from_charset:
            try:
                return data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                break
    return str(best), best.encoding


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    sample = text[:100_000]
    controls = sum(1 for ch in sample if _is_control(ch))
    return controls / len(sample) > _MAX_CONTROL_RATIO


def _is_control(ch: str) -> bool:
    code = ord(ch)
    if ch in _ALLOWED_CONTROLS:
        return False
    return code < 0x20 or 0x7F <= code <= 0x9F


def markdown_title(text: str) -> str | None:
    """Return the first level-1 heading of a Markdown text (ATX or setext), or None."""
    in_fence = False
    previous = ""
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            previous = ""
            continue
        if in_fence:
            continue
        match = _ATX_H1.match(line)
        if match:
            return match.group(1).strip() or None
        if previous.strip() and _SETEXT_H1.match(line):
            return previous.strip()
        previous = line
    return None


def truncate(text: str, limits: Limits) -> tuple[str, tuple[str, ...]]:
    """Cut text at limits.max_text_chars; return it and a warning if it was cut."""
    if len(text) <= limits.max_text_chars:
        return text, ()
    return text[: limits.max_text_chars], (f"text truncated at {limits.max_text_chars} characters",)


def read_nonempty(path: Path) -> bytes:
    """Read a whole file, refusing an empty one."""
    data = Path(path).read_bytes()
    if not data:
        raise ExtractionError("empty file")
    return data


class TextExtractor:
    """Read plain-text files as one page."""

    name = "text"
    mime_types: tuple[str, ...] = ("text/plain",)
    score = 10
    markdown = False

    def extract(self, path: Path, limits: Limits) -> Extraction:
        """Decode the file and return it as one page (line ends normalised to LF)."""
        raw, encoding = decode_bytes(read_nonempty(path))
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
        text, warnings = truncate(raw, limits)
        return Extraction(
            pages=(Page(number=1, text=text),),
            title=markdown_title(text) if self.markdown else None,
            metadata={"encoding": encoding, "lines": len(text.splitlines())},
            warnings=warnings,
        )


class MarkdownExtractor(TextExtractor):
    """Read Markdown files as one page; the title is the first level-1 heading.

    A class of its own because an extractor sees only a path (perhaps a
    temporary copy without the original suffix), not the sniffed MIME type.
    """

    name = "markdown"
    mime_types = ("text/markdown",)
    markdown = True


register(TextExtractor())
register(MarkdownExtractor())
