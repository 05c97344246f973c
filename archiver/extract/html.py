"""Extract the visible text, title and meta tags of HTML files."""
from __future__ import annotations

import codecs
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from bs4.element import CData, NavigableString, PageElement, PreformattedString, Tag

from archiver.extract import Limits, register
from archiver.extract.text import decode_bytes, read_nonempty, truncate
from archiver.records import Extraction, Page

_INVISIBLE = frozenset({"script", "style", "noscript", "template", "meta", "link", "base", "object", "embed"})
_CELLS = frozenset({"td", "th"})
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "title", "tr", "ul",
})
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
# What browsers do (WHATWG Encoding): these labels mean windows-1252 or UTF-8.
_CHARSET_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252",
                    "us-ascii": "cp1252", "ascii": "cp1252", "utf-16": "utf-8",
                    "utf-16le": "utf-8", "utf-16be": "utf-8"}


@dataclass(frozen=True)
class HtmlContent:
    """What an HTML document shows and says about itself."""

    text: str
    title: str | None = None
    meta: dict[str, str] = field(default_factory=dict)   # lower-cased meta name -> content


def decode_html(data: bytes) -> tuple[str, str]:
    """Decode HTML bytes: a BOM first, then the <meta> charset, then :func:`decode_bytes`.

    Returns:
        The markup and the name of the encoding used.
    """
    declared = _declared_charset(data)
    if declared and not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode(declared), declared
        except (UnicodeDecodeError, LookupError):
            # The page lies about its charset: pages saved by old tools are mostly Windows-1252.
            latin = data.decode("cp1252", errors="replace")
            if all(ord(c) < 0x250 or 0x2000 <= ord(c) < 0x2200 for c in latin if ord(c) > 127):
                return latin, "cp1252"
    return decode_bytes(data)


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    if not match:
        return None
    label = match.group(1).decode("ascii").lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def parse_html(markup: str) -> HtmlContent:
    """Return the visible text, the <title> and the named <meta> tags of HTML markup."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(markup, "html.parser")
    title = _clean(soup.title.get_text()) if soup.title else None
    meta = {}
    for tag in soup.find_all("meta"):
        name, content = tag.get("name"), tag.get("content")
        if isinstance(name, str) and isinstance(content, str) and content.strip():
            meta.setdefault(name.strip().lower(), content.strip())
    return HtmlContent(text=_visible_text(soup), title=title or None, meta=meta)


def html_to_text(markup: str) -> str:
    """Return only the text a browser would show (the title included), one block per line."""
    return parse_html(markup).text


def _visible_text(soup: BeautifulSoup) -> str:
    """Walk the tree without changing it (bs4's insert_after is quadratic on deep nesting)."""
    out: list[str] = []
    stack: list[tuple[PageElement, bool]] = [(soup, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            out.append("\t" if node.name in _CELLS else "\n")
        elif isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString) or isinstance(node, CData):
                out.append(str(node))       # comments, doctypes and processing instructions are skipped
        elif isinstance(node, Tag) and node.name not in _INVISIBLE and not node.has_attr("hidden"):
            if node.name == "br":
                out.append("\n")
                continue
            if node.name in _BLOCKS:
                out.append("\n")
            if node.name in _BLOCKS or node.name in _CELLS:
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    lines = (_table_line(line) for line in "".join(out).split("\n"))
    return "\n".join(line for line in lines if line)


def _table_line(line: str) -> str:
    cells = (_clean(cell) for cell in line.split("\t"))
    return " | ".join(cell for cell in cells if cell)


def _clean(text: str) -> str:
    return " ".join(text.split())


class HtmlExtractor:
    """Read HTML files as one page of visible text."""

    name = "html"
    mime_types = ("text/html",)
    score = 10

    def extract(self, path: Path, limits: Limits) -> Extraction:
        """Decode the file, drop what a browser does not show, read title and meta tags."""
        markup, encoding = decode_html(read_nonempty(path))
        content = parse_html(markup)
        text, warnings_ = truncate(content.text, limits)
        return Extraction(
            pages=(Page(number=1, text=text),),
            title=content.title,
            author=content.meta.get("author"),
            subject=content.meta.get("description"),
            keywords=content.meta.get("keywords"),
            metadata={"encoding": encoding},
            warnings=warnings_,
        )


register(HtmlExtractor())
