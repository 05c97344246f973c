"""Find each document's references and keep the change requests' lifecycles current.

Like the search index, references are derived from the catalog's stored text:
a document is linked after it is committed (or read by OCR), and every
document is linked again when the product registry changes, with no file read
again.
"""
from __future__ import annotations

from archiver import lifecycle
from archiver.catalog import Catalog
from archiver.config import Config
from archiver.refs import DEFAULT_CR_PATTERNS, DEFAULT_DOC_PREFIXES, Recognizer, Reference

CHANGE_ORDER_PREFIXES = ("ECO-", "ECN-")


def recognizer_for(catalog: Catalog, config: Config) -> Recognizer:
    """Return a recognizer for the archive's product registry and identifier settings."""
    return Recognizer(catalog.products(), config["refs.change_request_patterns"] or DEFAULT_CR_PATTERNS,
                      config["refs.document_prefixes"] or DEFAULT_DOC_PREFIXES)


def sync_links(catalog: Catalog, recognizer: Recognizer, only: set[int] | None = None) -> int:
    """Find the references of every document not yet linked (or of those of ``only``); return how many."""
    pending = [i for i in catalog.unlinked() if only is None or i in only]
    touched: dict[str, set[int]] = {}
    for start in range(0, len(pending), 200):
        with catalog.transaction():
            for doc_id in pending[start:start + 200]:
                before = {r.value for r in catalog.refs_of(doc_id) if r.kind == "change_request"}
                refs = recognizer.find(catalog.link_fields(doc_id))
                catalog.replace_refs(doc_id, refs)
                for cr in before | {r.value for r in refs if r.kind == "change_request"}:
                    touched.setdefault(cr, set()).add(doc_id)
    if touched:
        with catalog.transaction():
            for cr in sorted(touched):
                update_lifecycle(catalog, cr, touched[cr])
    return len(pending)


def update_lifecycle(catalog: Catalog, cr: str, changed: set[int]) -> None:
    """Bring the lifecycle of one change request up to date after some of its papers changed.

    A paper's steps depend on that paper alone, so only the changed papers are read
    again (a change request named by hundreds of papers costs what the batch adds).
    """
    referring = set(catalog.docs_referring("change_request", cr))
    steps: list[lifecycle.Step] = []
    for doc_id in sorted(changed & referring):
        steps += lifecycle.steps_of(paper_for(catalog, doc_id, cr))
    catalog.replace_cr_steps(cr, sorted(changed), [(s.step, s.date, s.doc_id, s.evidence) for s in steps])
    catalog.replace_cr_products(cr, affected_products(catalog, cr))


def paper_for(catalog: Catalog, doc_id: int, cr: str) -> lifecycle.Paper:
    """Return what the lifecycle reader needs of one document for one change request."""
    doc = catalog.document(doc_id)
    fields = catalog.link_fields(doc_id)
    starts, text = {}, ""
    for number, page in enumerate(fields.pages, start=1):
        starts[f"page {number}"] = len(text) + (1 if text else 0)
        text = f"{text}\f{page}" if text else page
    refs = catalog.refs_of(doc_id)
    mine = [r for r in refs if r.kind == "change_request" and r.value == cr]
    return lifecycle.Paper(
        doc_id=doc_id, title=doc.title or "", filename=doc.filename or "", date=doc.date, text=text,
        doc_number=doc.doc_number,
        mentions=tuple(starts[r.where] + r.offset for r in mine if r.where in starts),
        headline=any(r.where in ("title", "filename") or (r.where == "page 1" and r.offset < _first_line_end(text))
                     for r in mine),
        change_orders=tuple(sorted({r.value for r in refs if r.kind == "change_request"
                                    and r.value.startswith(CHANGE_ORDER_PREFIXES)})),
        order_headline=any(r.kind == "change_request" and r.value.startswith(CHANGE_ORDER_PREFIXES)
                           and r.where in ("title", "filename") for r in refs),
        own_order=is_change_order(cr) and any(r.where in ("title", "filename") for r in mine))


def _first_line_end(text: str) -> int:
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def affected_products(catalog: Catalog, cr: str) -> list[tuple[str, int, str]]:
    """Return (product, doc_id, evidence) for the products a change request affects.

    The request form (a document that shows the step "requested") names them;
    without one, the documents that concern this change request alone do.
    """
    forms = sorted({doc_id for step, _, doc_id, _ in catalog.cr_steps(cr) if step == "requested"})
    if not forms and is_change_order(cr):
        # A change order names its products itself: the papers titled with its id.
        forms = [d for d in catalog.docs_referring("change_request", cr)
                 if any(r.value == cr and r.where in ("title", "filename") for r in catalog.refs_of(d))]
    if not forms:
        forms = [d for d in catalog.docs_referring("change_request", cr)
                 if {r.value for r in catalog.refs_of(d) if r.kind == "change_request"
                     and not r.value.startswith(CHANGE_ORDER_PREFIXES)} == {cr}]
    found: dict[str, tuple[str, int, str]] = {}
    for doc_id in forms:
        for r in catalog.refs_of(doc_id):
            if r.kind == "product" and r.value not in found:
                found[r.value] = (r.value, doc_id, r.context or r.evidence)
    return sorted(found.values())


def is_change_order(ref: Reference | str) -> bool:
    """Tell whether an id names a change order or notice (ECO, ECN) rather than a request."""
    value = ref.value if isinstance(ref, Reference) else ref
    return value.startswith(CHANGE_ORDER_PREFIXES)
