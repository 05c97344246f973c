"""Decide which documents an export holds: named, widened by links, limited by date, with their families."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from archiver.errors import NotFound, QueryError

CATALOG_KIND = {"product": "product", "cr": "change_request", "docnum": "doc_number"}
NODE_WORDS = {"doc": "document", "product": "product", "cr": "change request", "docnum": "document number"}


@dataclass(frozen=True)
class Request:
    """What the user asked to export: exactly one of id, query, product, cr, and optional limits.

    ``after`` and ``before`` are days (YYYY-MM-DD, inclusive) compared with each
    document's date in UTC; ``related`` widens the selection by that many links.
    """

    id: str | None = None
    query: str | None = None
    product: str | None = None
    cr: str | None = None
    after: str | None = None
    before: str | None = None
    related: int = 0

    def as_dict(self) -> dict:
        """Return the request as a JSON-ready dict (for bundle.json and bag-info.txt)."""
        return asdict(self)

    def as_options(self) -> str:
        """Return the request written as command-line options, e.g. ``--cr CR-2024-0142 --after 2024-01-01``."""
        parts = [] if self.id is None else [_quote(self.id)]
        for name in ("query", "product", "cr", "after", "before"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"--{name} {_quote(value)}")
        if self.related:
            parts.append(f"--related {self.related}")
        return " ".join(parts)


@dataclass(frozen=True)
class Selection:
    """The documents of one export and how they were chosen."""

    request: Request
    node: str | None            # the graph node named by ID, --product or --cr; None for --query
    description: str            # one line for people, e.g. "change request CR-2024-0142"
    doc_ids: tuple[int, ...]    # every selected document, families included, by id


def select(archive, request: Request) -> Selection:
    """Return the documents a request selects: named, widened, limited by date, then with families."""
    after, before = _day(request.after, "--after"), _day(request.before, "--before")
    node, seed, description = _seed(archive, request)
    if request.related:
        seed |= _widen(archive, seed, request.related)
    if after or before:
        seed = _within(archive.catalog, seed, after, before)
    ids = with_families(archive.catalog, seed)
    if not ids:
        raise NotFound(f"{description}: no documents to export")
    return Selection(request, node, _describe(description, request), tuple(sorted(ids)))


def _seed(archive, request: Request) -> tuple[str | None, set[int], str]:
    given = [name for name in ("id", "query", "product", "cr") if getattr(request, name) is not None]
    if len(given) != 1:
        raise QueryError("name exactly one selection: an ID, --query, --product or --cr")
    if request.query is not None:
        return None, _search(archive, request.query), f"documents matching the query {_quote(request.query)}"
    node = archive.resolve_node(request.id or request.product or request.cr)
    kind, _, value = node.partition(":")
    wanted = {"product": "product", "cr": "cr"}.get(given[0])
    if wanted and kind != wanted:
        raise NotFound(f"{getattr(request, given[0])}: not a {NODE_WORDS[wanted]}")
    if kind == "doc":
        return node, {int(value)}, f"document {value}"
    return node, set(archive.catalog.docs_referring(CATALOG_KIND[kind], value)), f"{NODE_WORDS[kind]} {value}"


def _search(archive, query: str) -> set[int]:
    hits, total = archive.search(query, limit=1)
    if total > len(hits):
        hits, _ = archive.search(query, limit=total)
    return {h.doc_id for h in hits}


def _widen(archive, seed: set[int], depth: int) -> set[int]:
    """Return the documents within ``depth`` links of any seed document."""
    g = archive.graph()
    found: set[int] = set()
    for doc_id in sorted(seed):
        node = f"doc:{doc_id}"
        if g.has(node):
            found.update(int(n.id[4:]) for n in g.neighbours(node, depth) if n.kind == "document")
    return found


def _within(catalog, ids: set[int], after: str | None, before: str | None) -> set[int]:
    docs = catalog.documents(sorted(ids))
    return {i for i, d in docs.items()
            if d.date and (after is None or d.date[:10] >= after) and (before is None or d.date[:10] <= before)}


def with_families(catalog, ids: set[int]) -> set[int]:
    """Return ``ids`` with every e-mail's attachments and every attachment's message, transitively."""
    found, todo = set(ids), sorted(ids)
    while todo:
        doc_id = todo.pop()
        linked = [a for a, _ in catalog.attachments_of(doc_id)] + [m for m, _ in catalog.messages_carrying(doc_id)]
        for other in linked:
            if other not in found:
                found.add(other)
                todo.append(other)
    return found


def _day(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise QueryError(f"{option} {value!r} is not a day like 2024-03-31") from None


def _describe(base: str, request: Request) -> str:
    parts = [base]
    if request.related:
        parts.append(f"and documents up to {request.related} link{'s' * (request.related != 1)} away")
    if request.after and request.before:
        parts.append(f"dated {request.after} to {request.before}")
    elif request.after or request.before:
        parts.append(f"dated on or {'after' if request.after else 'before'} {request.after or request.before}")
    return ", ".join(parts) + ", with their e-mail families"


def _quote(text: str) -> str:
    return text if text and all(c.isalnum() or c in "-_.:/" for c in text) else '"' + text.replace('"', '\\"') + '"'
