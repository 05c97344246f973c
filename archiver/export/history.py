"""Gather what a bundle tells about its documents: the timeline and the cross-references among them."""
from __future__ import annotations

import io
from dataclasses import dataclass

KIND_ORDER = {"document": 0, "change_request": 1, "product": 2, "doc_number": 3}


@dataclass(frozen=True)
class PictureNode:
    """A node of the bundle's graph picture."""

    id: str
    kind: str
    label: str
    title: str


@dataclass(frozen=True)
class PictureEdge:
    """A link of the bundle's graph picture."""

    source: str
    target: str
    relation: str
    evidence: str


def timeline(archive, selection, items) -> list[dict]:
    """Return the dated events of the selection, oldest first, each with its control number.

    For a change request, product or document number the archive's timeline
    (with lifecycle steps) is kept for the selected documents; any selected
    document it lacks (an attachment, a related document) is added by its date.
    """
    numbers = {i.doc.id: i.control_number for i in items}
    entries = []
    if selection.node and not selection.node.startswith("doc:"):
        for e in archive.timeline(selection.node):    # a graph node id names itself
            if e.doc_id in numbers:
                entries.append({"date": e.date, "type": e.type, "step": e.step, "change_request": e.change_request,
                                "doc_id": e.doc_id, "title": e.title, "evidence": e.evidence})
    listed = {e["doc_id"] for e in entries if e["type"] == "document"}
    for item in items:
        if item.doc.id not in listed:
            entries.append({"date": item.doc.date, "type": "document", "step": None, "change_request": None,
                            "doc_id": item.doc.id, "title": item.doc.title or item.name, "evidence": ""})
    entries.sort(key=lambda e: (e["date"] is None, (e["date"] or "")[:10], e["type"] == "step",
                                numbers[e["doc_id"]], e["step"] or ""))
    return [{"control_number": numbers[e["doc_id"]], **e} for e in entries]


def crossrefs(archive, items) -> tuple[bytes, list[PictureNode], list[PictureEdge]]:
    """Return the GraphML of the selected documents and what they refer to, and the same for a picture.

    The graph holds the selected documents, every product, change request and
    document number they link to, and the links among these.
    """
    g = archive.graph()
    docs = [f"doc:{i.doc.id}" for i in items if g.has(f"doc:{i.doc.id}")]
    others = sorted({n.id for d in docs for n in g.neighbours(d, 1) if n.kind != "document"},
                    key=lambda n: (KIND_ORDER.get(g.node(n).kind, 9), g.node(n).label, n))
    ids = docs + others
    buf = io.BytesIO()
    g.export_subgraph(ids, "graphml", buf)
    numbers = {f"doc:{i.doc.id}": i.control_number for i in items}
    nodes = [_picture_node(g.node(n), numbers) for n in ids]
    inside = set(ids)
    edges = []
    for n in ids:
        seen = set()
        for nb in g.neighbours(n, 1):
            key = (nb.id, nb.relation)
            if nb.direction == "out" and nb.id in inside and key not in seen:
                seen.add(key)
                edges.append(PictureEdge(n, nb.id, nb.relation, nb.evidence))
    return buf.getvalue(), nodes, edges


def _picture_node(node, numbers: dict[str, str]) -> PictureNode:
    if node.kind == "document":
        return PictureNode(node.id, node.kind, numbers[node.id], node.attrs.get("title") or node.label)
    title = node.attrs.get("name") or node.label
    return PictureNode(node.id, node.kind, node.label, title)
