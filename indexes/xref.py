"""Build, cache, query and export the cross-reference graph: the only module that knows networkx."""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import networkx as nx

CACHE_VERSION = 1
CACHE_MAGIC = "archiver-xref-cache"
FORMATS = ("graphml", "gexf", "json", "dot")
KIND_OF_PREFIX = {"doc": "document", "product": "product", "cr": "change_request",
                  "docnum": "doc_number"}
DOT_SHAPES = {"document": "box", "product": "ellipse", "change_request": "diamond",
              "doc_number": "note"}
# Flattened attribute names that the record fields or the GraphML/GEXF writers own.
_RESERVED = {"id", "key", "kind", "label", "relation", "evidence", "where", "source", "target",
             "start", "end", "pid", "viz", "weight", "type"}


class XrefError(Exception):
    """The cross-reference graph cannot answer; the message says why."""


class NodeNotFound(XrefError, KeyError):
    """No node has the id asked for."""

    def __str__(self) -> str:  # KeyError would print the message quoted.
        return str(self.args[0]) if self.args else ""


class BadRequest(XrefError, ValueError):
    """A record, argument, format or file cannot be used."""


@dataclass(frozen=True)
class Node:
    """One node: a document, product, change request or controlled document number."""

    id: str
    kind: str
    label: str
    attrs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    """One typed link between two nodes, with the evidence that produced it."""

    source: str
    target: str
    relation: str
    evidence: str = ""
    where: str = ""
    attrs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Neighbour:
    """A node reached from another, and the edge through which it was first reached."""

    id: str
    kind: str
    label: str
    relation: str
    direction: str
    evidence: str
    where: str
    distance: int
    via: str
    attrs: dict = field(default_factory=dict)
    edge_attrs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One step of a path, in walking order; direction "in" means the edge points back."""

    source: str
    target: str
    relation: str
    direction: str


def kind_of(node_id: str) -> str:
    """Return the node kind that an id's prefix names ("doc:7" -> "document")."""
    prefix, sep, _ = node_id.partition(":")
    if not sep or prefix not in KIND_OF_PREFIX:
        raise BadRequest(f"cannot tell the kind of node id {node_id!r}")
    return KIND_OF_PREFIX[prefix]


class XrefGraph:
    """The cross-reference graph of one archive, derived from the catalog's records.

    A ``MultiDiGraph``: records may link the same pair twice (a document that
    *is* and *cites* a number) and a ``DiGraph`` would merge them silently.
    """

    def __init__(self, graph: nx.MultiDiGraph):
        self._g = graph

    # -- construction -------------------------------------------------------

    @classmethod
    def build(cls, nodes: Iterable[Node], edges: Iterable[Edge]) -> XrefGraph:
        """Build the graph; an edge's unknown endpoint becomes a node of the kind its prefix names."""
        g = nx.MultiDiGraph()
        for node in nodes:
            g.add_node(node.id, kind=node.kind, label=node.label, attrs=dict(node.attrs))
        for i, edge in enumerate(edges):
            for end in (edge.source, edge.target):
                if end not in g:
                    g.add_node(end, kind=kind_of(end), label=end.partition(":")[2], attrs={})
            # Keys unique across the graph become unique edge ids in GraphML and GEXF.
            g.add_edge(edge.source, edge.target, key=f"e{i}", relation=edge.relation,
                       evidence=edge.evidence, where=edge.where, attrs=dict(edge.attrs))
        return cls(g)

    @classmethod
    def cached(cls, path: Path, key: str,
               build: Callable[[], tuple[Iterable[Node], Iterable[Edge]]]) -> XrefGraph:
        """Load the graph cached at ``path`` if it was built for ``key``, else build and save it.

        ``key`` names what the graph was derived from (e.g. the catalog's
        generation); ``build`` returns (nodes, edges) and is called only on a
        miss. The cache is a pickle, so it is trusted local data like the
        catalog beside it: never point ``path`` at a file from elsewhere. An
        unreadable, corrupt or older-version cache is rebuilt silently.
        """
        path, header = Path(path), {"magic": CACHE_MAGIC, "version": CACHE_VERSION, "key": key}
        graph = _load_cache(path, header)
        if graph is not None:
            return cls(graph)
        xref = cls.build(*build())
        # Two pickles in a row: the header is read alone, so a stale cache costs no graph load.
        _atomic_write(path, pickle.dumps(header, pickle.HIGHEST_PROTOCOL)
                      + pickle.dumps(xref._g, pickle.HIGHEST_PROTOCOL))
        return xref

    @property
    def graph(self) -> nx.MultiDiGraph:
        """Give the underlying networkx graph, for reading only."""
        return self._g

    # -- lookups ------------------------------------------------------------

    def has(self, node_id: str) -> bool:
        """Tell whether a node with this id exists."""
        return node_id in self._g

    def node(self, node_id: str) -> Node:
        """Return one node as a record."""
        data = self._data(node_id)
        return Node(node_id, data["kind"], data["label"], dict(data["attrs"]))

    def nodes_of_kind(self, kind: str) -> list[tuple[str, str, dict]]:
        """List (id, label, attrs) of every node of one kind, by label then id."""
        found = [(n, d["label"], dict(d["attrs"])) for n, d in self._g.nodes(data=True)
                 if d["kind"] == kind]
        return sorted(found, key=lambda item: (item[1], item[0]))

    def degree(self, node_id: str, relation: str | None = None,
               direction: str | None = None) -> int:
        """Count the edges at a node, optionally of one relation and direction ("out"/"in")."""
        self._data(node_id)
        return sum(1 for _, rel, dirn, _ in self._incident(node_id, None)
                   if relation in (None, rel) and direction in (None, dirn))

    def stats(self) -> dict[str, Any]:
        """Count nodes and edges, in total, by node kind and by relation."""
        kinds = Counter(d["kind"] for _, d in self._g.nodes(data=True))
        relations = Counter(d["relation"] for *_, d in self._g.edges(data=True))
        return {"nodes": self._g.number_of_nodes(), "edges": self._g.number_of_edges(),
                "by_kind": dict(sorted(kinds.items())),
                "by_relation": dict(sorted(relations.items()))}

    # -- walks --------------------------------------------------------------

    def neighbours(self, node_id: str, depth: int = 1,
                   relations: set[str] | None = None) -> list[Neighbour]:
        """List the nodes within ``depth`` edges of a node, whatever the edges' direction.

        A node at distance 1 is listed once per (relation, direction) linking
        it; a node further away once, with the edge it was first reached by.
        Only edges of ``relations`` are walked (all when None). Sorted by
        distance, kind, label and id.
        """
        self._data(node_id)
        if depth < 1:
            raise BadRequest(f"depth must be 1 or more, not {depth}")
        found: list[Neighbour] = []
        seen, frontier = {node_id}, [node_id]
        for distance in range(1, depth + 1):
            reached: dict[tuple[str, ...], Neighbour] = {}
            for via in frontier:
                for other, rel, direction, data in self._incident(via, relations):
                    # The first ring keeps every relation; further rings keep each node once.
                    once = (other, rel, direction) if distance == 1 else (other,)
                    if other not in seen and once not in reached:
                        reached[once] = self._neighbour(other, rel, direction, data, distance, via)
            found.extend(reached.values())
            frontier = sorted({n.id for n in reached.values()}, key=self._order)
            seen.update(frontier)
        return sorted(found, key=lambda n: (n.distance, n.kind, n.label, n.id, n.relation,
                                            n.direction))

    def path(self, a: str, b: str, max_len: int = 6,
             relations: set[str] | None = None) -> list[Step] | None:
        """Return a shortest chain of edges from ``a`` to ``b``, walked either way.

        Each step reports the edge's real relation and direction ("out" when
        it points from the step's source to its target). ``[]`` when a is b,
        None when no chain of at most ``max_len`` edges exists.
        """
        self._data(a)
        self._data(b)
        parent: dict[str, tuple[str, str, str]] = {a: ("", "", "")}
        frontier = [a]
        for _ in range(max_len):
            if b in parent or not frontier:
                break
            reached = []
            for here in frontier:
                for other, rel, direction, _ in self._incident(here, relations):
                    if other not in parent:
                        parent[other] = (here, rel, direction)
                        reached.append(other)
            frontier = sorted(reached, key=self._order)
        if b not in parent:
            return None
        steps = []
        while b != a:
            prev, rel, direction = parent[b]
            steps.append(Step(prev, b, rel, direction))
            b = prev
        return steps[::-1]

    # -- export -------------------------------------------------------------

    def subgraph(self, node_ids: Iterable[str]) -> XrefGraph:
        """Return a copy holding these nodes and the edges among them."""
        ids = sorted(set(node_ids))
        for node_id in ids:
            self._data(node_id)
        # Built explicitly in sorted order: networkx's subgraph views iterate a small node set
        # in hash order, which would make exports differ from run to run.
        keep = set(ids)
        g = nx.MultiDiGraph()
        g.add_nodes_from((n, self._g.nodes[n]) for n in ids)
        g.add_edges_from(sorted(((u, v, k, d) for u in ids for v, keyed in self._g[u].items() if v in keep
                                 for k, d in keyed.items()), key=lambda e: (e[0], e[1], str(e[2]))))
        return XrefGraph(g)

    def export(self, fmt: str, out: IO | Path | str) -> None:
        """Write the graph as "graphml", "gexf", "json" (node-link) or "dot".

        ``out`` is a path (replaced atomically) or an open text or binary stream.
        """
        if fmt not in FORMATS:
            raise BadRequest(f"unknown graph format {fmt!r} (choose from {', '.join(FORMATS)})")
        data = _RENDERERS[fmt](self._g)
        if isinstance(out, (str, Path)):
            _atomic_write(Path(out), data)
        elif isinstance(out, io.TextIOBase):
            out.write(data.decode("utf-8"))
        else:
            out.write(data)

    def export_subgraph(self, node_ids: Iterable[str], fmt: str, out: IO | Path | str) -> None:
        """Write only these nodes and the edges among them, as ``export`` does."""
        self.subgraph(node_ids).export(fmt, out)

    # -- internals ----------------------------------------------------------

    def _data(self, node_id: str) -> dict:
        try:
            return self._g.nodes[node_id]
        except KeyError:
            raise NodeNotFound(f"no such node: {node_id}") from None

    def _order(self, node_id: str) -> tuple[str, str, str]:
        data = self._g.nodes[node_id]
        return (data["kind"], data["label"], node_id)

    def _incident(self, node_id: str,
                  relations: set[str] | None) -> list[tuple[str, str, str, dict]]:
        """List (other end, relation, direction, edge data) at a node, in a fixed order."""
        found = [(v, d["relation"], "out", d) for v, keyed in self._g.succ[node_id].items()
                 for d in keyed.values()]
        found += [(u, d["relation"], "in", d) for u, keyed in self._g.pred[node_id].items()
                  for d in keyed.values()]
        if relations is not None:
            found = [item for item in found if item[1] in relations]
        return sorted(found, key=lambda item: item[:3])  # stable: parallel edges keep their order

    def _neighbour(self, other: str, relation: str, direction: str, edge: dict,
                   distance: int, via: str) -> Neighbour:
        data = self._g.nodes[other]
        return Neighbour(other, data["kind"], data["label"], relation, direction,
                         edge["evidence"], edge["where"], distance, via, dict(data["attrs"]),
                         dict(edge["attrs"]))


def load_json(path: Path | str) -> XrefGraph:
    """Read a JSON (node-link) export back into a graph."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        # networkx < 3.6 wrote "links"; reading it as "edges" would drop every edge silently.
        edges = "edges" if "edges" in data else "links"
        graph = nx.node_link_graph(data, directed=True, multigraph=True, edges=edges)
    except (OSError, ValueError, KeyError, TypeError, nx.NetworkXError) as exc:
        raise BadRequest(f"{path}: not a graph export ({exc})") from exc
    if not (all({"kind", "label", "attrs"} <= d.keys() for _, d in graph.nodes(data=True))
            and all({"relation", "evidence", "where", "attrs"} <= d.keys()
                    for *_, d in graph.edges(data=True))):
        raise BadRequest(f"{path}: not an archiver graph export (fields are missing)")
    return XrefGraph(graph)


def _load_cache(path: Path, header: dict) -> nx.MultiDiGraph | None:
    """Return the graph cached at ``path`` if its header is ``header``, else None."""
    try:
        with path.open("rb") as fh:
            if pickle.load(fh) != header:
                return None
            graph = pickle.load(fh)
    except Exception:  # noqa: BLE001 - a damaged pickle can raise almost anything; it is rebuilt
        return None
    return graph if isinstance(graph, nx.MultiDiGraph) else None


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: a temporary file beside it, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)          # mkstemp makes 0600; an export is for others to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _flat_items(fixed: dict, attrs: dict) -> Iterator[tuple[str, Any]]:
    yield from fixed.items()
    for name, value in attrs.items():
        if value is None:
            value = ""
        elif not isinstance(value, (str, int, float, bool)):
            value = json.dumps(value, sort_keys=True, default=str)
        yield (f"attr_{name}" if str(name) in _RESERVED else str(name)), value


def _unify_types(rows: list[dict]) -> None:
    """Turn an attribute to text everywhere if its values differ in type (one GraphML key each)."""
    types: dict[str, set[type]] = {}
    for row in rows:
        for name, value in row.items():
            types.setdefault(name, set()).add(type(value))
    mixed = {name for name, seen in types.items() if len(seen) > 1}
    for row in rows:
        for name in mixed & row.keys():
            row[name] = str(row[name])


# Characters XML 1.0 does not allow (a PDF title with a form feed, an ESC in a subject).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value):
    """Return a string with the characters XML cannot hold replaced by U+FFFD; other values as they are."""
    return _NOT_XML.sub("\ufffd", value) if isinstance(value, str) else value


def _flat_graph(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Copy the graph with only str/int/float/bool attributes, XML-safe, as GraphML and GEXF require."""
    def clean(items):
        return {name: _xml_text(value) for name, value in items}
    nodes = [(_xml_text(n), clean(_flat_items({"kind": d["kind"], "label": d["label"]}, d["attrs"])))
             for n, d in g.nodes(data=True)]
    edges = [(_xml_text(u), _xml_text(v), k, clean(_flat_items({"relation": d["relation"], "evidence": d["evidence"],
                                                              "where": d["where"]}, d["attrs"])))
             for u, v, k, d in g.edges(keys=True, data=True)]
    _unify_types([d for _, d in nodes])
    _unify_types([d for *_, d in edges])
    flat = nx.MultiDiGraph()
    flat.add_nodes_from(nodes)
    flat.add_edges_from(edges)
    return flat


def _render_xml(writer: Callable[[nx.MultiDiGraph, IO[bytes]], None], g: nx.MultiDiGraph) -> bytes:
    buf = io.BytesIO()
    writer(_flat_graph(g), buf)
    return buf.getvalue()


def _render_json(g: nx.MultiDiGraph) -> bytes:
    data = nx.node_link_data(g, edges="edges")  # explicit: the default key changed in 3.6
    return (json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False, default=str)
            + "\n").encode("utf-8")


def dot_quote(text: str) -> str:
    """Quote a string for DOT: backslashes, double quotes and line breaks escaped."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return f'"{text}"'


def _render_dot(g: nx.MultiDiGraph) -> bytes:
    lines = ["digraph archiver {"]
    for n, d in g.nodes(data=True):
        shape = DOT_SHAPES.get(d["kind"], "box")
        lines.append(f"  {dot_quote(n)} [label={dot_quote(d['label'])}, shape={shape}];")
    for u, v, d in g.edges(data=True):
        lines.append(f"  {dot_quote(u)} -> {dot_quote(v)} [label={dot_quote(d['relation'])}];")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


_RENDERERS: dict[str, Callable[[nx.MultiDiGraph], bytes]] = {
    "graphml": partial(_render_xml, nx.write_graphml), "gexf": partial(_render_xml, nx.write_gexf),
    "json": _render_json, "dot": _render_dot,
}
