"""Run the benchmark once at a tiny size to prove it works (benchmarks are not tests: no timing is asserted)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from numbers import Number
from pathlib import Path

import pytest

from bench import corpus, queries, report

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("schema", "command", "machine", "params", "corpus", "timings", "ingest", "search", "related",
            "timeline", "watcher", "memory", "sizes", "floor", "recoll", "ratios", "targets")


def _numbers(value, path=""):
    if isinstance(value, bool):
        return
    if isinstance(value, Number):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> tuple[dict, str]:
    work = tmp_path_factory.mktemp("bench")
    out = work / "result.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--n", "8", "--scans-share", "0.1", "--no-recoll",
         "--cli-queries", "2", "--watch-rounds", "1", "--workdir", str(work / "w"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_every_section_is_there(result):
    data, _ = result
    assert set(SECTIONS) <= set(data)
    assert set(data["ingest"]) == {"electronic", "scans", "reingest"}
    assert set(data["search"]) == {"inprocess", "cli", "startup"}
    assert set(data["floor"]) == {"extract", "index", "ingest", "tesseract"}
    assert {t["target"] for t in data["targets"]} == {t[0] for t in report.TARGETS}
    assert all(t["status"] in ("PASS", "MISS", "n/a") for t in data["targets"])


def test_numbers_are_sensible(result):
    data, table = result
    negative = [(path, value) for path, value in _numbers(data) if value < 0]
    assert negative == []
    assert data["corpus"]["documents"] == 8 and data["corpus"]["scans"] == 1
    electronic = data["ingest"]["electronic"]
    assert electronic["files"] == 7 and electronic["wall_s"] > 0 and electronic["mb_per_s"] > 0
    assert electronic["statuses"] == {"indexed": electronic["documents"]}
    assert data["ingest"]["reingest"]["statuses"] == {"unchanged": 8}
    assert data["search"]["inprocess"]["n"] == 50 and data["search"]["inprocess"]["errors"] == 0
    assert data["search"]["cli"]["n"] == 2 and data["search"]["cli"]["failed"] == 0
    assert data["related"]["n"] == 20 and data["timeline"]["n"] == 15
    assert data["memory"]["peak_tree_rss_mb"] > 0 and data["sizes"]["archive_mb"] > 0
    assert data["floor"]["extract"]["documents"] == electronic["documents"]
    assert data["recoll"] == {"available": False, "reason": "--no-recoll"}
    assert "targets (issue item 3)" in table


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed")
def test_scans_are_read(result):
    data, _ = result
    assert data["ingest"]["scans"]["pages"] == 1 and data["ingest"]["scans"]["failed_pages"] == 0
    assert data["floor"]["tesseract"]["pages"] == 1


def test_corpus_is_reproducible(tmp_path):
    first = corpus.generate(tmp_path / "a", 24, seed=3, scans_share=0.05, workers=2)   # a process pool
    second = corpus.generate(tmp_path / "b", 24, seed=3, scans_share=0.05, workers=1)  # one process
    assert first["digest"] == second["digest"]
    assert first["by_kind"]["scan"] == 1 and first["documents"] == 24


def test_fifty_queries_of_every_kind():
    qs = queries.queries(1000)
    assert len(qs) == 50 and {q.kind for q in qs} == set(queries.KINDS)
    assert len(queries.graph_ids(1000, list(range(1, 100)))) == 20


def test_the_team_benchmark_runs_at_a_tiny_size(tmp_path):
    from tests import pg
    server = pg.server_url()
    if server is None:
        pytest.skip("no PostgreSQL test server")
    out = tmp_path / "team.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.team", "--n", "6", "--scans", "2", "--links", "3000", "--server", server,
         "--workdir", str(tmp_path / "w"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["ingest"]["statuses"] == {"indexed": r["ingest"]["documents"]} and r["ingest"]["documents"] >= 6
    assert r["search"]["n"] == 50 and r["search"]["errors"] == 0 and r["search"]["indexed_pages"] > 0
    assert [r["ocr"][k]["workers"] for k in ("1", "2")] == [1, 2]
    assert all(r["extract"][k]["files"] == r["ingest"]["documents"] for k in ("1", "2"))   # attachments too
    assert all(r["ocr"][k]["pages"] == 2 for k in ("1", "2")) or engine_missing()
    assert r["graph"]["links"] == 3000 and r["graph"]["related"]["n"] == 9
    assert r["graph"]["neighbours"]["P-1"] > 0 and min(r["graph"]["neighbours"].values()) > 0
    assert "related on 3,000 references" in done.stdout


def engine_missing() -> bool:
    from archiver.ocr import engine_version
    return engine_version() is None
