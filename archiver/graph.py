"""Turn the catalog's references into the nodes and edges of the cross-reference graph."""
from __future__ import annotations

import re

from archiver.catalog import Catalog
from archiver.linking import affected_products
from indexes.xref import Edge, Node


def doc_node(doc_id: int) -> str:
    """Return the graph id of a document."""
    return f"doc:{doc_id}"


def records(catalog: Catalog) -> tuple[list[Node], list[Edge]]:
    """Return every node and edge of the archive's graph, built from the catalog alone."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    docs = catalog.graph_documents()
    by_message_id = {}
    for doc_id, title, filename, fmt, date, sha, number, revision, message_id, _ in docs:
        label = title or filename or f"document {doc_id}"
        nodes.append(Node(doc_node(doc_id), "document", label,
                          {"title": title, "date": date, "format": fmt, "sha256": sha,
                           "doc_number": number, "revision": revision}))
        if message_id:
            by_message_id[message_id.strip()] = doc_id
    for p in catalog.products():
        nodes.append(Node(f"product:{p.code}", "product", p.code, {"name": p.name}))
    crs = set()
    for doc_id, kind, value, role, revision, evidence, where in catalog.graph_refs():
        target = {"product": "product", "change_request": "cr", "doc_number": "docnum"}[kind] + f":{value}"
        crs.add(value) if kind == "change_request" else None
        attrs = {"revision": revision} if revision else {}
        edges.append(Edge(doc_node(doc_id), target, role, evidence, where, attrs))
    for cr in sorted(crs):
        steps = catalog.cr_steps(cr)
        nodes.append(Node(f"cr:{cr}", "change_request", cr, {"steps": len(steps)}))
        for product, doc_id, evidence in affected_products(catalog, cr):
            edges.append(Edge(f"cr:{cr}", f"product:{product}", "affects", evidence, f"document {doc_id}"))
    edges += _attachment_edges(catalog)
    edges += [Edge(doc_node(new), doc_node(old), "version_of", path, "same path, changed content")
              for new, old, path in catalog.versions()]
    edges += _reply_edges(docs, by_message_id)
    edges += _revision_edges(docs)
    return nodes, edges


def _attachment_edges(catalog: Catalog) -> list[Edge]:
    return [Edge(doc_node(doc_id), doc_node(message_id), "attachment_of", name, "attachment")
            for message_id, doc_id, name in catalog.all_attachments()]


def _reply_edges(docs, by_message_id) -> list[Edge]:
    edges = []
    for doc_id, *_, in_reply_to in docs:
        if not in_reply_to:
            continue
        for ref in re.findall(r"<[^>]+>", in_reply_to) or [in_reply_to.strip()]:
            parent = by_message_id.get(ref)
            if parent is not None and parent != doc_id:
                edges.append(Edge(doc_node(doc_id), doc_node(parent), "replies_to", ref, "In-Reply-To"))
    return edges


def revision_key(revision: str | None) -> tuple:
    """Order revisions: numbers numerically, letters as A < B < ... < Z < AA < AB; unknown last."""
    if revision is None:
        return (2, 0, "")
    if revision.isdigit():
        return (0, int(revision), "")
    return (1, len(revision), revision.upper())


def _revision_edges(docs) -> list[Edge]:
    by_number: dict[str, list[tuple]] = {}
    for doc_id, _, _, _, date, _, number, revision, *_ in docs:
        if number and revision:
            by_number.setdefault(number, []).append((revision_key(revision), date or "", doc_id, revision))
    edges = []
    for number, revs in by_number.items():
        revs.sort()
        for (_, _, older, old_rev), (_, _, newer, new_rev) in zip(revs, revs[1:]):
            if old_rev != new_rev:
                edges.append(Edge(doc_node(newer), doc_node(older), "supersedes",
                                  f"{number} Rev {new_rev} supersedes Rev {old_rev}", "revision"))
    return edges
