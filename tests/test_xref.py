"""Cross-reference graph: parallel edges, walks, paths, the cache and the exports."""
from __future__ import annotations

import io
import json
import pickle

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexes.xref import (CACHE_VERSION, BadRequest, Edge, Neighbour, Node, NodeNotFound, Step,
                          XrefError, XrefGraph, load_json)

NODES = [
    Node("doc:1", "document", "ECO-1123 approval", {"date": "2024-03-01", "format": "pdf"}),
    Node("doc:2", "document", "Housing drawing", {"date": "2024-04-02", "revision": "B"}),
    Node("doc:3", "document", "Housing drawing rev A", {"revision": None, "pages": 3}),
    Node("product:WX-100", "product", "WX-100", {"name": "Wind sensor"}),
    Node("cr:ECO-1123", "change_request", "ECO-1123"),
]
EDGES = [
    Edge("doc:1", "cr:ECO-1123", "concerns", "ECO-1123", "page 1"),
    Edge("doc:2", "cr:ECO-1123", "concerns", "per ECO-1123", "page 2"),
    Edge("doc:2", "product:WX-100", "mentions", "WX-100 housing", "page 1"),
    Edge("doc:2", "docnum:DRW-7", "is", "DRW-7 rev B", "title block", {"revision": "B"}),
    Edge("doc:2", "docnum:DRW-7", "cites", "see DRW-7", "page 3"),
    Edge("doc:2", "doc:3", "supersedes", "replaces rev A", "page 1"),
    Edge("cr:ECO-1123", "product:WX-100", "affects", "WX-100", "cr record"),
    Edge("doc:9", "product:ZZ-1", "mentions", "ZZ-1", "page 1"),  # an island
]


@pytest.fixture
def xref() -> XrefGraph:
    return XrefGraph.build(NODES, EDGES)


def _ids(neighbours: list[Neighbour]) -> list[tuple[str, str, str, int]]:
    return [(n.id, n.relation, n.direction, n.distance) for n in neighbours]


def _edge_set(graph: nx.MultiDiGraph) -> set[tuple]:
    return {(u, v, k, d["relation"], d["evidence"], d["where"], json.dumps(d["attrs"]))
            for u, v, k, d in graph.edges(keys=True, data=True)}


# -- build and lookups --------------------------------------------------------------


def test_parallel_edges_between_the_same_pair_are_all_kept(xref):
    relations = {d["relation"] for d in xref.graph.get_edge_data("doc:2", "docnum:DRW-7").values()}
    assert relations == {"is", "cites"}
    assert xref.stats() == {
        "nodes": 8, "edges": 8,
        "by_kind": {"change_request": 1, "doc_number": 1, "document": 4, "product": 2},
        "by_relation": {"affects": 1, "cites": 1, "concerns": 2, "is": 1, "mentions": 2,
                        "supersedes": 1},
    }


def test_an_edge_to_an_unknown_node_creates_it_from_the_id(xref):
    assert xref.node("docnum:DRW-7") == Node("docnum:DRW-7", "doc_number", "DRW-7", {})
    assert xref.node("product:ZZ-1").kind == "product"
    assert xref.has("doc:9") and not xref.has("doc:10")
    with pytest.raises(BadRequest):
        XrefGraph.build([], [Edge("doc:1", "weird:thing", "mentions")])


def test_lookups_by_kind_and_degree(xref):
    assert xref.nodes_of_kind("product") == [("product:WX-100", "WX-100", {"name": "Wind sensor"}),
                                             ("product:ZZ-1", "ZZ-1", {})]
    assert xref.degree("doc:2") == 5
    assert xref.degree("cr:ECO-1123", relation="concerns", direction="in") == 2
    assert xref.degree("product:WX-100", direction="out") == 0


def test_unknown_node_raises_a_key_error_from_the_family(xref):
    for call in (lambda: xref.neighbours("doc:404"), lambda: xref.path("doc:1", "doc:404"),
                 lambda: xref.node("doc:404"), lambda: xref.subgraph(["doc:404"])):
        with pytest.raises(NodeNotFound) as info:
            call()
        assert isinstance(info.value, XrefError) and isinstance(info.value, KeyError)
        assert str(info.value) == "no such node: doc:404"


# -- neighbours -------------------------------------------------------------------


def test_neighbours_at_depth_one_list_each_relation_with_its_direction(xref):
    found = xref.neighbours("doc:2")
    assert _ids(found) == [
        ("cr:ECO-1123", "concerns", "out", 1),
        ("docnum:DRW-7", "cites", "out", 1),
        ("docnum:DRW-7", "is", "out", 1),
        ("doc:3", "supersedes", "out", 1),
        ("product:WX-100", "mentions", "out", 1),
    ]
    is_edge = found[2]
    assert (is_edge.evidence, is_edge.where, is_edge.edge_attrs) == ("DRW-7 rev B", "title block",
                                                                     {"revision": "B"})
    assert is_edge.via == "doc:2" and is_edge.kind == "doc_number"
    assert [(n.id, n.direction) for n in xref.neighbours("cr:ECO-1123")] == [
        ("doc:1", "in"), ("doc:2", "in"), ("product:WX-100", "out")]


def test_neighbours_at_depth_two_once_each_at_the_smallest_distance(xref):
    found = xref.neighbours("doc:1", depth=2)
    assert _ids(found) == [
        ("cr:ECO-1123", "concerns", "out", 1),
        ("doc:2", "concerns", "in", 2),
        ("product:WX-100", "affects", "out", 2),
    ]
    assert [n.via for n in found] == ["doc:1", "cr:ECO-1123", "cr:ECO-1123"]
    assert found[1].attrs == {"date": "2024-04-02", "revision": "B"}


def test_relation_filter_applies_to_the_edges_walked(xref):
    found = xref.neighbours("doc:1", depth=3, relations={"concerns"})
    assert _ids(found) == [("cr:ECO-1123", "concerns", "out", 1), ("doc:2", "concerns", "in", 2)]
    assert xref.neighbours("doc:1", relations={"mentions"}) == []
    with pytest.raises(BadRequest):
        xref.neighbours("doc:1", depth=0)


# -- paths ------------------------------------------------------------------------


def test_path_across_documents_reports_real_relations_and_directions(xref):
    assert xref.path("doc:1", "doc:3") == [
        Step("doc:1", "cr:ECO-1123", "concerns", "out"),
        Step("cr:ECO-1123", "doc:2", "concerns", "in"),
        Step("doc:2", "doc:3", "supersedes", "out"),
    ]
    no_affects = xref.path("doc:1", "product:WX-100", relations={"concerns", "mentions"})
    assert no_affects == [Step("doc:1", "cr:ECO-1123", "concerns", "out"),
                          Step("cr:ECO-1123", "doc:2", "concerns", "in"),
                          Step("doc:2", "product:WX-100", "mentions", "out")]
    assert xref.path("product:WX-100", "doc:1") == [
        Step("product:WX-100", "cr:ECO-1123", "affects", "in"),
        Step("cr:ECO-1123", "doc:1", "concerns", "in")]
    assert xref.path("doc:1", "doc:1") == []


def test_path_is_none_when_not_connected_or_too_long(xref):
    assert xref.path("doc:1", "doc:9") is None
    assert xref.path("doc:1", "doc:3", max_len=2) is None
    assert len(xref.path("doc:1", "doc:3", max_len=3)) == 3


# -- cache ------------------------------------------------------------------------


class Builder:
    """Count how often the graph's records were asked for."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return NODES, EDGES


def test_cache_is_used_for_the_same_key_and_rebuilt_for_another(tmp_path):
    path, build = tmp_path / "cache" / "xref.pickle", Builder()
    first = XrefGraph.cached(path, "gen-1", build)
    second = XrefGraph.cached(path, "gen-1", build)
    assert build.calls == 1
    assert _edge_set(second.graph) == _edge_set(first.graph)
    assert second.neighbours("doc:2") == first.neighbours("doc:2")
    XrefGraph.cached(path, "gen-2", build)
    assert build.calls == 2
    XrefGraph.cached(path, "gen-2", build)
    assert build.calls == 2
    assert [p.name for p in path.parent.iterdir()] == ["xref.pickle"]  # no temporary left


@pytest.mark.parametrize("damage", [
    b"not a pickle at all",
    b"",
    pickle.dumps({"magic": "archiver-xref-cache", "version": CACHE_VERSION, "key": "k"}),
    pickle.dumps({"magic": "archiver-xref-cache", "version": CACHE_VERSION, "key": "k"})
    + pickle.dumps(["not", "a", "graph"]),
    pickle.dumps({"magic": "archiver-xref-cache", "version": CACHE_VERSION - 1, "key": "k"})
    + pickle.dumps(nx.MultiDiGraph()),
])
def test_a_corrupt_or_old_cache_is_rebuilt_silently(tmp_path, damage):
    path, build = tmp_path / "xref.pickle", Builder()
    path.write_bytes(damage)
    xref = XrefGraph.cached(path, "k", build)
    assert build.calls == 1 and xref.stats()["edges"] == len(EDGES)
    XrefGraph.cached(path, "k", build)
    assert build.calls == 1


# -- exports ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt, read", [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_graphml_and_gexf_parse_back_with_the_same_counts(xref, tmp_path, fmt, read):
    path = tmp_path / f"graph.{fmt}"
    xref.export(fmt, path)
    back = read(path)
    assert back.is_multigraph() and back.is_directed()
    assert (back.number_of_nodes(), back.number_of_edges()) == (8, 8)
    assert back.number_of_edges("doc:2", "docnum:DRW-7") == 2


def test_graphml_keeps_edge_keys_and_flattens_attributes(xref, tmp_path):
    path = tmp_path / "graph.graphml"
    xref.export("graphml", path)
    back = nx.read_graphml(path)
    assert set(back.get_edge_data("doc:2", "docnum:DRW-7")) == {"e3", "e4"}
    assert back.nodes["doc:3"] == {"kind": "document", "label": "Housing drawing rev A",
                                   "revision": "", "pages": 3}
    assert back.edges["doc:2", "docnum:DRW-7", "e3"]["revision"] == "B"


def test_json_round_trips_through_load_json(xref, tmp_path):
    path = tmp_path / "graph.json"
    xref.export("json", path)
    raw = json.loads(path.read_text())
    assert "edges" in raw and "links" not in raw
    back = load_json(path)
    assert _edge_set(back.graph) == _edge_set(xref.graph)
    assert back.node("doc:1") == xref.node("doc:1")
    assert back.path("doc:1", "doc:3") == xref.path("doc:1", "doc:3")


def test_load_json_refuses_what_is_not_a_graph_export(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"nodes": [{"id": "x"}], "edges": []}')
    with pytest.raises(BadRequest):
        load_json(path)
    path.write_text("{ nope")
    with pytest.raises(BadRequest):
        load_json(path)


def test_dot_escapes_labels_and_writes_one_line_per_edge(tmp_path):
    tricky = Node("doc:1", "document", 'The "new"\nhousing \\ rev B')
    xref = XrefGraph.build([tricky], EDGES[:3])
    out = io.StringIO()
    xref.export("dot", out)
    text = out.getvalue()
    assert text.startswith("digraph archiver {\n") and text.endswith("}\n")
    assert '"doc:1" [label="The \\"new\\"\\nhousing \\\\ rev B", shape=box];' in text
    assert '"cr:ECO-1123" [label="ECO-1123", shape=diamond];' in text
    edge_lines = [line for line in text.splitlines() if " -> " in line]
    assert edge_lines == ['  "doc:1" -> "cr:ECO-1123" [label="concerns"];',
                          '  "doc:2" -> "cr:ECO-1123" [label="concerns"];',
                          '  "doc:2" -> "product:WX-100" [label="mentions"];']


def test_export_subgraph_writes_only_the_chosen_nodes(xref):
    out = io.BytesIO()
    xref.export_subgraph(["doc:2", "docnum:DRW-7", "doc:3"], "json", out)
    data = json.loads(out.getvalue())
    assert sorted(n["id"] for n in data["nodes"]) == ["doc:2", "doc:3", "docnum:DRW-7"]
    assert sorted(e["relation"] for e in data["edges"]) == ["cites", "is", "supersedes"]
    with pytest.raises(BadRequest):
        xref.export("png", io.BytesIO())


# -- laws ---------------------------------------------------------------------------

node_ids = st.sampled_from([f"doc:{i}" for i in range(5)] + ["product:P-1", "cr:CR-1"])
edges = st.lists(st.builds(Edge, node_ids, node_ids,
                           st.sampled_from(["mentions", "cites", "concerns", "is"])), max_size=12)


@settings(max_examples=60, deadline=None)
@given(edges, node_ids, st.integers(1, 3))
def test_every_first_ring_neighbour_is_one_edge_away(edges, start, depth):
    xref = XrefGraph.build([], edges)
    if not xref.has(start):
        return
    g = xref.graph
    found = xref.neighbours(start, depth=depth)
    assert len({n.id for n in found if n.distance > 1}) == sum(n.distance > 1 for n in found)
    for n in found:
        if n.distance == 1:
            assert g.has_edge(start, n.id) or g.has_edge(n.id, start)
            assert len(xref.path(start, n.id)) == 1
        else:
            assert not (g.has_edge(start, n.id) or g.has_edge(n.id, start))
            assert len(xref.path(start, n.id)) == n.distance
