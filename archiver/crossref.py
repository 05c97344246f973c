"""Answer the cross-reference questions: products, change requests, related, path, timeline, graph export."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from archiver import lifecycle
from archiver.catalog import now
from archiver.errors import ConfigError, NotFound, QueryError
from archiver.linking import is_change_order
from archiver.refs import Fields, Product, normalise_dashes
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # networkx is imported only when the graph is needed
    from indexes.xref import XrefGraph

KINDS = {"doc": "document", "product": "product", "cr": "change_request", "docnum": "doc_number"}


@dataclass(frozen=True)
class Neighbour:
    """One node connected to the one asked about (the JSON row of `archiver related`)."""

    id: int | str
    kind: str
    relation: str
    direction: str
    distance: int
    title: str
    sha256: str | None
    date: str | None
    evidence: str
    where: str


@dataclass(frozen=True)
class Related:
    """A node and its neighbours."""

    id: int | str
    kind: str
    title: str
    neighbours: list[Neighbour]


@dataclass(frozen=True)
class TimelineEntry:
    """One dated event: a document, or a lifecycle step a document shows."""

    date: str | None
    type: str             # document, step
    step: str | None
    change_request: str | None
    doc_id: int
    title: str
    evidence: str


@dataclass(frozen=True)
class ChangeRequest:
    """A change request as its papers show it."""

    id: str
    kind: str             # request, order (ECO/ECN)
    state: str
    products: list[dict]
    documents: list[dict]
    steps: list[dict]


def load_products(path: Path) -> list[Product]:
    """Read a products file: [[products]] tables with code, name and aliases."""
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the products file: {exc}") from exc
    products = []
    for i, entry in enumerate(table.get("products", []), start=1):
        if not isinstance(entry, dict) or "code" not in entry:
            raise ConfigError(f"{path}: product {i} has no code")
        if not isinstance(entry["code"], str) or not entry["code"].strip():
            raise ConfigError(f"{path}: product {i}: code must be a text, such as code = \"WX-100\" "
                              f"(not {entry['code']!r})")
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ConfigError(f"{path}: product {entry['code']}: aliases must be a list of strings")
        products.append(Product(entry["code"].strip(), str(entry.get("name", "")).strip(), tuple(aliases)))
    if not products:
        raise ConfigError(f"{path}: no [[products]] entries")
    seen: set[str] = set()
    for p in products:
        if p.code in seen:
            raise ConfigError(f"{path}: product {p.code} is listed twice; merge its entries")
        seen.add(p.code)
    owner: dict[str, str] = {}
    for p in products:
        for term in (p.code, p.name, *p.aliases):
            key = normalise_dashes(term).strip().lower()
            if key and owner.setdefault(key, p.code) != p.code:
                raise ConfigError(f"{path}: {term!r} names both {owner[key]} and {p.code}")
    return products


class CrossRefs:
    """The cross-reference part of :class:`archiver.Archive` (a mixin; needs catalog, root, recognizer)."""

    def graph(self) -> XrefGraph:
        """Return the graph, from its cache when nothing changed since it was built."""
        from archiver import graph as graph_records
        from indexes.xref import XrefGraph
        return XrefGraph.cached(self.root / "graph.cache", self.catalog.graph_key(),
                                lambda: graph_records.records(self.catalog))

    def import_products(self, path: Path) -> tuple[int, int]:
        """Add or update products from a file and re-link every document; return (added, changed)."""
        products = load_products(path)
        with self.writing():
            with self.catalog.transaction():
                added, changed = self.catalog.upsert_products(products, now())
                if added or changed:
                    self.catalog.mark_all_unlinked()
                    self.catalog.audit("products.import", None, None, path=str(path), added=added,
                                       changed=changed)
            self.sync_index()
        return added, changed

    def products(self) -> list[tuple[Product, int]]:
        """Return every registered product and the number of documents that mention it."""
        counts = self.catalog.product_document_counts()
        return [(p, counts.get(p.code, 0)) for p in self.catalog.products()]

    def resolve_product(self, ref: str) -> str:
        """Return the code of the registered product named by a code, name or alias."""
        wanted = normalise_dashes(ref.strip()).lower()
        for p in self.catalog.products():
            if wanted in {normalise_dashes(t).lower() for t in (p.code, p.name, *p.aliases)}:
                return p.code
        raise NotFound(f"{ref}: no such product (see: archiver products)")

    def resolve_change_request(self, ref: str) -> str:
        """Return the canonical id of a change request written in any form."""
        found = [r for r in self.recognizer().find(Fields(title=normalise_dashes(ref.strip())))
                 if r.kind == "change_request"]
        if len(found) != 1 or found[0].evidence != normalise_dashes(ref.strip()):
            raise QueryError(f"{ref}: not a change request id (like CR-2024-0142 or ECO-1123)")
        if not self.catalog.docs_referring("change_request", found[0].value):
            raise NotFound(f"{ref}: no document refers to it")
        return found[0].value

    def resolve_node(self, ref: str) -> str:
        """Return the graph id named by a document, product, change request or document number."""
        ref = normalise_dashes(ref.strip())
        prefix, _, rest = ref.partition(":")
        if prefix in KINDS and rest and self._node_exists(prefix, rest):
            return ref
        try:
            return f"product:{self.resolve_product(ref)}"
        except NotFound:
            pass
        found = self.recognizer().find(Fields(title=ref))
        whole = [r for r in found if r.evidence == ref and r.kind != "product"]
        if whole:
            prefix = "cr" if whole[0].kind == "change_request" else "docnum"
            if self._node_exists(prefix, whole[0].value):
                return f"{prefix}:{whole[0].value}"
            raise NotFound(f"{ref}: no document refers to it")
        return f"doc:{self.resolve(ref)}"

    def _node_exists(self, prefix: str, value: str) -> bool:
        if prefix == "doc":
            return value.isascii() and value.isdigit() and self.catalog.document(int(value)) is not None
        if prefix == "product" and value in {p.code for p in self.catalog.products()}:
            return True
        kind = {"product": "product", "cr": "change_request", "docnum": "doc_number"}[prefix]
        return bool(self.catalog.docs_referring(kind, value))

    def neighbourhood_graph(self, node: str, depth: int) -> "XrefGraph":
        """Return the part of the graph within ``depth`` links of a node, read from the catalog."""
        from archiver import graph as graph_records
        from indexes.xref import XrefGraph
        return XrefGraph.build(*graph_records.neighbourhood(self.catalog, node, depth))

    def related(self, ref: str, depth: int = 1, relations: tuple[str, ...] = ()) -> Related:
        """Return what is connected to a node, with relation and evidence."""
        node = self.resolve_node(ref)
        g = self.neighbourhood_graph(node, depth)
        try:
            found = g.neighbours(node, depth, set(relations) if relations else None)
        except _xref_error() as exc:
            raise QueryError(str(exc)) from exc
        me = g.node(node)
        return Related(_public_id(node), me.kind, _title(me), [
            Neighbour(_public_id(n.id), n.kind, n.relation, n.direction, n.distance, _title(g.node(n.id)),
                      n.attrs.get("sha256") or None, n.attrs.get("date") or None, n.evidence, n.where)
            for n in found])

    def path(self, a: str, b: str) -> list[dict]:
        """Return how two nodes are connected, step by step; raise NotFound when they are not."""
        start, end = self.resolve_node(a), self.resolve_node(b)
        g = self._meeting_graph(start, end)
        steps = g.path(start, end, max_len=8) if g is not None else None
        if steps is None:
            raise NotFound(f"{a} and {b} are not connected")
        return [{"from": _public_id(s.source), "from_kind": g.node(s.source).kind,
                 "from_title": _title(g.node(s.source)), "relation": s.relation, "direction": s.direction,
                 "to": _public_id(s.target), "to_kind": g.node(s.target).kind, "to_title": _title(g.node(s.target))}
                for s in steps]

    def _meeting_graph(self, a: str, b: str, reach: int = 4):
        """Return the graph around two nodes once their neighbourhoods meet (within 2 x ``reach`` links)."""
        from archiver import graph as graph_records
        from indexes.xref import XrefGraph
        for depth in range(1, reach + 1):
            nodes_a, edges_a = graph_records.neighbourhood(self.catalog, a, depth)
            nodes_b, edges_b = graph_records.neighbourhood(self.catalog, b, depth)
            if {n.id for n in nodes_a} & {n.id for n in nodes_b}:
                return XrefGraph.build({n.id: n for n in nodes_a + nodes_b}.values(), edges_a + edges_b)
        return None

    def timeline(self, ref: str) -> list[TimelineEntry]:
        """Return the dated documents and lifecycle steps of a change request, product or number."""
        try:
            node = self.resolve_node(ref)
        except NotFound as exc:
            if "no such document" not in str(exc):
                raise
            raise NotFound(f"{ref}: no change request, product or document number of that name") from exc
        kind, _, value = node.partition(":")
        if kind == "doc":
            raise QueryError(f"{ref}: a timeline is of a change request, product or document number")
        catalog_kind = {"cr": "change_request", "product": "product", "docnum": "doc_number"}[kind]
        doc_ids = self.catalog.docs_referring(catalog_kind, value)
        crs = [value] if kind == "cr" else (
            [cr for cr, _, _ in self.catalog.crs_affecting(value)] if kind == "product" else [])
        steps = [(cr, step) for cr in crs for step in self.catalog.cr_steps(cr)]
        labels = self.catalog.labels({*doc_ids, *(step[2] for _, step in steps)})
        entries = [TimelineEntry(labels[i][0], "document", None, None, i, labels[i][1], None)
                   for i in dict.fromkeys(doc_ids) if i in labels]
        for cr, (step, date, doc_id, evidence) in steps:
            entries.append(TimelineEntry(date, "step", step, cr, doc_id, labels.get(doc_id, (None, ""))[1], evidence))
        return sorted(entries, key=lambda e: (e.date is None, (e.date or "")[:10], e.type == "step", e.doc_id))

    def change_requests(self) -> list[dict]:
        """Return every change request the papers mention, with state, products and document count."""
        rows = []
        for cr, count in self.catalog.known_values("change_request"):
            steps = [lifecycle.Step(*s) for s in self.catalog.cr_steps(cr)]
            dated = [s.date for s in steps if s.date]
            rows.append({"id": cr, "kind": "order" if is_change_order(cr) else "request",
                         "state": lifecycle.current_state(steps),
                         "products": [p for p, _, _ in self.catalog.cr_products(cr)],
                         "documents": count, "last_step_date": max(dated) if dated else None})
        return rows

    def change_request(self, ref: str) -> ChangeRequest:
        """Return one change request: its documents, affected products and lifecycle steps."""
        node = self.resolve_node(ref)
        if not node.startswith("cr:"):
            raise NotFound(f"{ref}: not a change request")
        cr = node[3:]
        steps = self.catalog.cr_steps(cr)
        doc_ids = self.catalog.docs_referring("change_request", cr)
        docs = self.catalog.documents(doc_ids)
        documents = []
        for doc_id in doc_ids:
            d = docs[doc_id]
            evidence = [r for r in self.catalog.refs_of(doc_id) if r.kind == "change_request" and r.value == cr]
            documents.append({"doc_id": d.id, "sha256": d.sha256, "title": d.title or d.filename, "date": d.date,
                              "format": d.format, "evidence": evidence[0].evidence if evidence else "",
                              "where": evidence[0].where if evidence else ""})
        return ChangeRequest(
            cr, "order" if is_change_order(cr) else "request",
            lifecycle.current_state([lifecycle.Step(*s) for s in steps]),
            [{"code": p, "doc_id": d, "evidence": e} for p, d, e in self.catalog.cr_products(cr)],
            documents, [{"step": s, "date": dt, "doc_id": d, "evidence": e} for s, dt, d, e in steps])

    def export_graph(self, fmt: str, out: IO | Path) -> dict:
        """Write the whole graph in a format for other tools; return its counts."""
        g = self.graph()
        try:
            g.export(fmt, out)
        except _xref_error() as exc:
            raise QueryError(str(exc)) from exc
        return g.stats()


def _xref_error() -> type[Exception]:
    from indexes.xref import XrefError
    return XrefError


def _public_id(node: str) -> int | str:
    kind, _, value = node.partition(":")
    return int(value) if kind == "doc" and value.isdigit() else value


def _title(node) -> str:
    return node.attrs.get("title") or node.label if node.kind == "document" else (
        f"{node.label} ({node.attrs['name']})" if node.attrs.get("name") else node.label)


