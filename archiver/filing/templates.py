"""Render path templates: a document's metadata in, a safe relative path out (pure functions).

A template is a path with fields, like Python's ``str.format``:
``"{product}/Change requests/{cr}/{date:%Y-%m-%d} {title}.{ext}"``. Each field
may take a format spec (``{sha256:.8}``, ``{doc_id:05d}``, ``{date:%Y-%m}``)
and a conversion ``!u`` (upper case) or ``!l`` (lower case). "/" separates
folders; a "/" inside a value never does. A missing value is replaced by its
fallback (:data:`FALLBACKS`), so every document gets a path.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePosixPath

from archiver.filing import names

MAX_VALUE = 255      # characters of one value used (the rest could never fit a name)

FALLBACKS = {
    "product": "_No product",
    "product_name": "_No product",
    "cr": "_No change request",
    "doc_number": "_No number",
    "revision": "-",
    "date": "undated",
    "year": "undated",
    "month": "undated",
    "author": "_No author",
    "sender": "_No sender",
}
"""The value used when a document has none (title, filename, stem and ext have derived fallbacks)."""

FIELDS = ("product", "product_name", "cr", "doc_number", "revision", "title", "date", "year", "month",
          "ext", "format", "author", "sender", "filename", "stem", "doc_id", "sha256")
_INT_FIELDS = {"doc_id", "year", "month"}
_SAMPLE = {"date": datetime(2024, 3, 4, tzinfo=timezone.utc), "doc_id": 7, "year": 2024, "month": 3}
_CONVERSIONS = {None: str, "s": str, "u": str.upper, "l": str.lower}

EXTENSIONS = {
    "pdf": ("pdf",), "docx": ("docx",), "text": ("txt", "text", "log", "asc"), "markdown": ("md", "markdown"),
    "html": ("html", "htm"), "csv": ("csv",), "email": ("eml",),
}
IMAGE_EXTENSIONS = {"image/png": ("png",), "image/jpeg": ("jpg", "jpeg"), "image/tiff": ("tif", "tiff"),
                    "image/gif": ("gif",), "image/bmp": ("bmp",), "image/webp": ("webp",)}


class TemplateError(ValueError):
    """A path template that cannot be used; the message is one line."""


@dataclass(frozen=True)
class DocMeta:
    """What a template (and a rule) may use of one document."""

    doc_id: int
    sha256: str
    format: str
    mime: str = ""
    title: str | None = None
    author: str | None = None
    sender: str | None = None            # the e-mail's From (a message's, or the carrying message's)
    date: datetime | None = None
    filename: str | None = None          # the name it arrived with
    doc_number: str | None = None
    revision: str | None = None
    products: tuple[str, ...] = ()       # product codes, the one {product} shows first
    product_names: tuple[str, ...] = ()  # registry names, parallel to products ("" when unknown)
    crs: tuple[str, ...] = ()            # change request ids, the one {cr} shows first


@dataclass(frozen=True)
class Template:
    """A parsed path template: literal text and (field, conversion, spec) pieces."""

    text: str
    pieces: tuple[tuple[str, str | None, str | None, str], ...]   # (literal, field, conversion, spec)

    @property
    def fields(self) -> frozenset[str]:
        """Return the names of the fields used."""
        return frozenset(f for _, f, _, _ in self.pieces if f)


def parse(text: str) -> Template:
    """Parse and check a template; raise TemplateError naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise TemplateError("the path template is empty")
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", text):
        raise TemplateError(f"{text!r}: the path template must be relative")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"{text!r}: {exc}") from exc
    pieces = []
    for literal, name, spec, conversion in parsed:
        if name is not None:
            _check_field(text, name, spec or "", conversion)
        pieces.append((literal, name or None, conversion, spec or None))
    literal_parts = re.split(r"[/\\]", "".join(p[0] + ("x" if p[1] else "") for p in pieces))
    if ".." in literal_parts:
        raise TemplateError(f"{text!r}: '..' is not allowed in a path template")
    if len([p for p in literal_parts if p]) > names.MAX_DEPTH:
        raise TemplateError(f"{text!r}: more than {names.MAX_DEPTH} folder levels")
    return Template(text, tuple(pieces))


def _check_field(text: str, name: str, spec: str, conversion: str | None) -> None:
    if name not in FIELDS:
        raise TemplateError(f"{text!r}: unknown field {{{name}}} (known: {', '.join(FIELDS)})")
    if conversion not in _CONVERSIONS:
        raise TemplateError(f"{text!r}: unknown conversion !{conversion} in {{{name}}} (known: !u, !l)")
    if "{" in spec:
        raise TemplateError(f"{text!r}: nested fields are not allowed in {{{name}:{spec}}}")
    try:
        format(_SAMPLE.get(name, "x"), spec)
    except (ValueError, TypeError) as exc:
        raise TemplateError(f"{text!r}: bad format spec {spec!r} for {{{name}}}: {exc}") from exc


def render(template: Template, meta: DocMeta) -> str:
    """Return the safe relative path (components joined by "/") of one document."""
    parts = [""]
    for literal, name, conversion, spec in template.pieces:
        chunks = re.split(r"[/\\]", literal)
        parts[-1] += chunks[0]
        parts.extend(chunks[1:])
        if name:
            parts[-1] += _CONVERSIONS[conversion](value(name, meta, spec or ""))
    parts = [names.safe_component(p) for p in parts if p.strip()]
    return names.fit(parts or [f"document {meta.doc_id}"])


def value(name: str, meta: DocMeta, spec: str = "") -> str:
    """Return one field of a document as text for a name, formatted by ``spec``, with its fallback."""
    raw = _raw(name, meta)
    if raw is None or raw == "":
        text = FALLBACKS.get(name) or _derived_fallback(name, meta)
        try:
            text = format(text, spec) if name not in _INT_FIELDS and name != "date" else text
        except ValueError:
            pass
    elif isinstance(raw, datetime):
        text = format(raw, spec or "%Y-%m-%d")
    elif name == "month" and not spec:
        text = f"{raw:02d}"
    else:
        text = format(raw, spec)
    return names.clean_text(text[:MAX_VALUE * 4])[:MAX_VALUE] or "_"


def _raw(name: str, meta: DocMeta):
    if name == "product":
        return meta.products[0] if meta.products else None
    if name == "product_name":
        if not meta.products:
            return None
        return (meta.product_names[0] if meta.product_names else "") or meta.products[0]
    if name == "cr":
        return meta.crs[0] if meta.crs else None
    if name in ("year", "month"):
        return None if meta.date is None else getattr(meta.date, name)
    if name == "sender":
        return sender_name(meta.sender)
    if name == "ext":
        return extension(meta)
    if name in ("title", "stem", "filename"):
        return _names(meta)[name]
    return getattr(meta, name)


def _derived_fallback(name: str, meta: DocMeta) -> str:
    if name in ("title", "stem", "filename"):
        return _names(meta)[name] or f"document {meta.doc_id}"
    return "_"


def _names(meta: DocMeta) -> dict[str, str | None]:
    filename = (meta.filename or "").replace("\\", "/").rsplit("/", 1)[-1] or None
    stem = PurePosixPath(filename).stem if filename else None
    if not filename:
        filename = f"document {meta.doc_id}.{extension(meta)}"
    title = (meta.title or "").strip() or stem
    return {"title": title, "stem": stem, "filename": filename}


def extension(meta: DocMeta) -> str:
    """Return the extension to file a document under (no dot).

    The original name's extension (lower case) when it suits the format, else
    the format's usual one (``text`` -> ``txt``, ``email`` -> ``eml``, images by
    their MIME type); for formats archiver does not read, the original's
    extension, else ``bin``.
    """
    known = EXTENSIONS.get(meta.format) or IMAGE_EXTENSIONS.get(meta.mime)
    own = names.split_ext(meta.filename or "")[1][1:].lower()
    if known:
        return own if own in known else known[0]
    return own or "bin"


def sender_name(sender: str | None) -> str | None:
    """Return the display name of an e-mail sender ("Alice <a@x.com>" -> "Alice"), else its address."""
    if not sender:
        return None
    first = sender.split(">,")[0]
    name, _, address = first.partition("<")
    return name.strip().strip("'\"") or address.strip(" >") or None


def sender_address(sender: str | None) -> str | None:
    """Return the e-mail address of a sender ("Alice <a@x.com>" -> "a@x.com")."""
    if not sender:
        return None
    first = sender.split(">,")[0]
    _, bracket, address = first.partition("<")
    return (address.strip(" >") if bracket else first.strip()) or None
