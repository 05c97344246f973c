"""Turn the catalog's references into the nodes and edges of the cross-reference graph."""
from __future__ import annotations

import re

from archiver.catalog import Catalog
from archiver.catalog.links import NODE_PREFIX
from indexes.xref import Edge, Node


def doc_node(doc_id: int) -> str:
    """Return the graph id of a document."""
    return f"doc:{doc_id}"


def neighbourhood(catalog: Catalog, start: str, depth: int) -> tuple[list[Node], list[Edge]]:
    """Return the nodes and edges within ``depth`` links of a node, read from the catalog.

    One recursive query over the links table finds the nodes and their distances;
    the edges (with their evidence) are then read for the nodes nearer than
    ``depth`` only. Only this bounded part of the graph is read, so that `related`
    and `timeline` cost what the neighbourhood holds, not what the archive holds.
    """
    reached = catalog.within(start, depth)
    reached.setdefault(start, 0)
    inner = sorted(node for node, d in reached.items() if d < depth)
    docs = [int(n[4:]) for n in inner if n.startswith("doc:")]
    found: list[Edge] = _documents_edges(catalog, docs) if docs else []
    for node in inner:
        if not node.startswith("doc:"):
            found += _edges_at(catalog, node)
    edges, seen = {}, set(reached)
    for e in found:
        edges.setdefault((e.source, e.target, e.relation, e.evidence, e.where), e)
        seen.update((e.source, e.target))
    return _nodes(catalog, seen), list(edges.values())


def _edges_at(catalog: Catalog, node: str) -> list[Edge]:
    kind, _, value = node.partition(":")
    catalog_kind = {prefix: kind for kind, prefix in NODE_PREFIX.items()}[kind]
    edges = [_ref_edge(row) for row in catalog.refs_to(catalog_kind, value)]
    if kind == "cr":
        edges += [Edge(node, f"product:{p}", "affects", ev, f"document {d}") for p, d, ev in catalog.cr_products(value)]
    elif kind == "product":
        edges += [Edge(f"cr:{c}", node, "affects", ev, f"document {d}") for c, d, ev in catalog.crs_affecting(value)]
    else:
        edges += _revision_edges(catalog.graph_documents_of(d for d, _, _ in catalog.revisions_of(value)))
    return edges


def _documents_edges(catalog: Catalog, doc_ids: list[int]) -> list[Edge]:
    """Return every edge at some documents: references, attachments, versions, revisions, replies."""
    edges = [_ref_edge(row) for row in catalog.refs_of_docs(doc_ids)]
    edges += [Edge(doc_node(d), doc_node(m), "attachment_of", name, "attachment")
              for m, d, name in catalog.attachment_links_of(doc_ids)]
    edges += [Edge(doc_node(new), doc_node(old), "version_of", path, "same path, changed content")
              for new, old, path in catalog.versions_of(doc_ids)]
    rows = catalog.graph_documents_of(doc_ids)
    for number in sorted({row[6] for row in rows if row[6]}):
        edges += _revision_edges(catalog.graph_documents_of(d for d, _, _ in catalog.revisions_of(number)))
    replying = [row for row in rows if row[9]]
    if replying:
        refs = {ref for row in replying for ref in (re.findall(r"<[^>]+>", row[9]) or [row[9].strip()])}
        edges += _reply_edges(replying, catalog.messages_by_id(sorted(refs)))
    messages = {row[8].strip(): row[0] for row in rows if row[8]}
    if messages:
        replies = catalog.graph_documents_of(catalog.replies_to_messages(list(messages)))
        edges += _reply_edges(replies, messages)
    return edges


def _ref_edge(row: tuple) -> Edge:
    doc_id, kind, value, role, revision, evidence, where = row
    return Edge(doc_node(doc_id), f"{NODE_PREFIX[kind]}:{value}", role, evidence, where,
                {"revision": revision} if revision else {})


def _nodes(catalog: Catalog, ids: set[str]) -> list[Node]:
    nodes = []
    doc_ids = [int(i[4:]) for i in ids if i.startswith("doc:")]
    for doc_id, title, filename, fmt, date, sha, number, revision, _, _ in catalog.graph_documents_of(doc_ids, messages=False):
        nodes.append(Node(doc_node(doc_id), "document", title or filename or f"document {doc_id}",
                          {"title": title, "date": date, "format": fmt, "sha256": sha,
                           "doc_number": number, "revision": revision}))
    listed = {n.id for n in nodes}
    for doc in catalog.documents(d for d in doc_ids if doc_node(d) not in listed).values():
        nodes.append(Node(doc_node(doc.id), "document", doc.title or doc.filename or f"document {doc.id}",
                          {"title": doc.title, "date": doc.date, "format": doc.format, "sha256": doc.sha256,
                           "state": doc.state}))
    names = {p.code: p.name for p in catalog.products()}
    for node in sorted(ids):
        kind, _, value = node.partition(":")
        if kind == "product":
            nodes.append(Node(node, "product", value, {"name": names.get(value, "")}))
        elif kind == "cr":
            nodes.append(Node(node, "change_request", value, {}))
    return nodes


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
        target = f"{NODE_PREFIX[kind]}:{value}"
        crs.add(value) if kind == "change_request" else None
        attrs = {"revision": revision} if revision else {}
        edges.append(Edge(doc_node(doc_id), target, role, evidence, where, attrs))
    for cr in sorted(crs):
        steps = catalog.cr_steps(cr)
        nodes.append(Node(f"cr:{cr}", "change_request", cr, {"steps": len(steps)}))
        for product, doc_id, evidence in catalog.cr_products(cr):
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
