"""Give each exported document its control number and safe file names, attachments right after their e-mail."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from archiver.records import Document

NAME_LIMIT = 80
EXTENSIONS = {"pdf": "pdf", "docx": "docx", "text": "txt", "markdown": "md", "html": "html", "csv": "csv",
              "email": "eml"}
IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/tiff": "tif", "image/gif": "gif",
                    "image/bmp": "bmp", "image/webp": "webp"}


@dataclass(frozen=True)
class Item:
    """One exported document: its control number, family and the names it has in the bundle."""

    control_number: str
    doc: Document
    name: str                       # the original name (data, never a path): FILENAME in the load file
    native: str                     # relative to data/: natives/<control number>_<safe name>
    text: str                       # relative to data/: text/<control number>.txt
    parent: str | None = None       # control number of the e-mail that carries it
    attachments: tuple[str, ...] = ()
    family: tuple[str, str] = ("", "")   # first and last control number of its whole family


def control_number(prefix: str, digits: int, n: int) -> str:
    """Return the n-th control number, e.g. ``ARC-00000001``."""
    return f"{prefix}-{n:0{digits}d}"


def number(catalog, doc_ids, prefix: str, digits: int) -> list[Item]:
    """Return the documents in export order with control numbers from 1 upward.

    Top-level documents go by date (undated last), then id; each e-mail is
    followed by its attachments (depth first, in message order). A document
    carried by two selected e-mails goes with the first of them.
    """
    ids = set(doc_ids)
    docs = catalog.documents(sorted(ids))
    children = {i: [a for a, _ in catalog.attachments_of(i) if a in ids and a != i] for i in sorted(ids)}
    carried = {a for kids in children.values() for a in kids}
    order, parent_of = _order(docs, children, carried)
    position = {doc_id: n for n, doc_id in enumerate(order, start=1)}
    names = _original_names(catalog, docs)
    numbers = {doc_id: control_number(prefix, digits, position[doc_id]) for doc_id in order}
    ranges = _family_ranges(order, parent_of, numbers)
    items = []
    for doc_id in order:
        cn, doc = numbers[doc_id], docs[doc_id]
        kids = tuple(numbers[k] for k in children[doc_id] if parent_of.get(k) == doc_id)
        items.append(Item(cn, doc, names[doc_id], f"natives/{cn}_{safe_name(names[doc_id], doc)}",
                          f"text/{cn}.txt", numbers.get(parent_of.get(doc_id)), kids, ranges[doc_id]))
    return items


def _order(docs: dict[int, Document], children: dict[int, list[int]],
           carried: set[int]) -> tuple[list[int], dict[int, int]]:
    def when(doc_id: int) -> tuple:
        d = docs[doc_id]
        return (d.date is None, d.date or "", doc_id)

    order: list[int] = []
    parent_of: dict[int, int] = {}
    placed: set[int] = set()
    # Documents carried only inside a loop of e-mails have no top; they start families of their own.
    tops = sorted((i for i in docs if i not in carried), key=when) + sorted(carried, key=when)
    for top in tops:
        stack = [(top, None)]
        while stack:
            doc_id, parent = stack.pop()
            if doc_id in placed:
                continue
            placed.add(doc_id)
            order.append(doc_id)
            if parent is not None:
                parent_of[doc_id] = parent
            stack.extend((kid, doc_id) for kid in reversed(children[doc_id]) if kid not in placed)
    return order, parent_of


def _family_ranges(order: list[int], parent_of: dict[int, int], numbers: dict[int, str]) -> dict[int, tuple]:
    def top(doc_id: int) -> int:
        while doc_id in parent_of:
            doc_id = parent_of[doc_id]
        return doc_id

    last: dict[int, str] = {}
    for doc_id in order:          # families are contiguous: the last member seen is the family's end
        last[top(doc_id)] = numbers[doc_id]
    return {doc_id: (numbers[top(doc_id)], last[top(doc_id)]) for doc_id in order}


def _original_names(catalog, docs: dict[int, Document]) -> dict[int, str]:
    unnamed = [i for i, d in docs.items() if not d.filename]
    paths = catalog.first_sources(unnamed) if unnamed else {}
    return {i: d.filename or PurePosixPath(paths.get(i, "")).name or "" for i, d in docs.items()}


def safe_name(name: str, doc: Document | None = None) -> str:
    """Return a file name made safe for any file system and any tool: ASCII letters, digits, '.', '_', '-'.

    The name is data (an attachment's name can be ``../../etc/passwd``): only
    its last part is kept, accents are dropped, anything else becomes '_', and
    it is cut to a sane length keeping the extension. A name that ends up
    empty or without an extension gets one from the document's format.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    clean = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name)).strip("._-")
    stem, dot, ext = clean.rpartition(".")
    if not dot or not stem or not re.fullmatch(r"[A-Za-z0-9]{1,10}", ext):
        stem, ext = clean, _extension(doc)
    stem = stem[:NAME_LIMIT].rstrip("._-") or "document"
    return f"{stem}.{ext}" if ext else stem


def _extension(doc: Document | None) -> str:
    if doc is None:
        return ""
    return EXTENSIONS.get(doc.format) or IMAGE_EXTENSIONS.get(doc.mime, "bin")
