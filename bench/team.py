"""Benchmark a team archive (PostgreSQL catalog, search and OCR queue) on this machine.

Example::

    .venv/bin/python -m bench.team --n 1000 --scans 40 --links 1000000

Starts a throwaway PostgreSQL server (``.ci/postgres``), then measures on the
same generated corpus as ``bench.run``: ingest of the electronic files into a
team archive; reading of the same files queued by ``ingest --queue-only`` by 1
and by 2 ``archiver worker`` processes (files per second); OCR of a backlog of scans by 1 and by 2 ``archiver worker``
processes (pages per minute, each worker one page at a time); search latency of
the 50 benchmark queries on PostgreSQL full-text search (and how many pages are
indexed); and ``related`` latency on a synthetic catalog of ``--links``
references (documents, products and change requests made with SQL). Prints a
table and writes JSON (``--out``, default ``bench/results-team-{n}.json``).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import corpus, measure, report
from bench.queries import queries
from bench.report import echo
from bench.stats import summary

REPO = Path(__file__).resolve().parent.parent
NODE = "(CASE kind WHEN 'product' THEN 'product:' ELSE 'cr:' END) || value"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    p = argparse.ArgumentParser(prog="python -m bench.team", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="electronic documents in the corpus (default 1000)")
    p.add_argument("--scans", type=int, default=40, help="scans in the OCR backlog (default 40)")
    p.add_argument("--links", type=int, default=1_000_000, help="references in the synthetic graph (default 1e6)")
    p.add_argument("--extract", type=int, default=1, help="also time 1 and 2 workers reading the files queued by "
                                                          "ingest --queue-only (default 1; 0 skips it)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", help="where corpus and archives go (default: temporary, removed)")
    p.add_argument("--server", help="a PostgreSQL URL to use instead of starting one")
    p.add_argument("--out", help="JSON output (default bench/results-team-{n}.json)")
    p.add_argument("--search-only", action="store_true",
                   help="with --workdir and --server of an earlier run: measure search on the archive it ingested")
    return p.parse_args(argv)


def start_server(workdir: Path) -> str:
    """Start a throwaway server with .ci/postgres; return its URL."""
    done = subprocess.run(["bash", str(REPO / ".ci" / "postgres"), "start", str(workdir / "pg")],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def new_database(server: str, name: str) -> str:
    """Create an empty database on the server; return its URL."""
    import psycopg
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


def team_subject(root: Path, corpus_dir: Path, url: str, logs: Path) -> measure.Subject:
    """Create a team archive at ``root`` on ``url`` and return it as a benchmark subject."""
    s = measure.Subject(root, corpus_dir, logs)
    s.run("init", "init", str(root), "--products", str(corpus_dir / "products.toml"), "--catalog", url)
    return s


def ocr_backlog(server: str, work: Path, scans: Path, workers: int) -> dict:
    """Queue the scans in a fresh team archive, then time ``workers`` workers reading the backlog."""
    url = new_database(server, f"bench_ocr_{workers}")
    s = team_subject(work / f"ocr-{workers}", scans.parent, url, work / "logs" / f"ocr-{workers}")
    store = s.run("store-scans", "ingest", str(scans), "--no-ocr", "--json")
    wall, summaries = run_workers(s, workers)
    pages = sum(x["pages"] for x in summaries)
    return {"workers": workers, "store_wall_s": round(store.wall_s, 3), "ocr_wall_s": round(wall, 3),
            "pages": pages, "failed_pages": sum(x["failed_pages"] for x in summaries),
            "pages_per_min": round(60 * pages / wall, 2) if wall else None,
            "per_worker": [x["pages"] for x in summaries]}


def run_workers(s: measure.Subject, workers: int) -> tuple[float, list[dict]]:
    """Run ``workers`` workers until the queue is empty; return the wall time and each one's closing summary.

    Their output goes to files, not pipes: a pipe nobody reads while another
    worker is waited for fills up and stops its worker.
    """
    with tempfile.TemporaryDirectory() as tmp:
        logs = [Path(tmp) / f"worker{i}.jsonl" for i in range(workers)]
        handles = [log.open("w") for log in logs]
        start = time.perf_counter()
        procs = [subprocess.Popen([*s.argv, "worker", "--until-empty", "--processes", "1", "--json"],
                                  stdout=h, stderr=subprocess.DEVNULL, text=True) for h in handles]
        for p, h in zip(procs, handles):
            p.wait()
            h.close()
        wall = time.perf_counter() - start
        outs = [log.read_text().strip() for log in logs]
    return wall, [json.loads(o.splitlines()[-1]) for o in outs if o]


def extract_backlog(server: str, work: Path, electronic: Path, workers: int) -> dict:
    """Store and queue the electronic files (``ingest --queue-only``), then time ``workers`` workers reading them."""
    url = new_database(server, f"bench_extract_{workers}")
    s = team_subject(work / f"extract-{workers}", electronic.parent, url, work / "logs" / f"extract-{workers}")
    store = s.run("queue", "ingest", str(electronic), "--queue-only", "--json")
    wall, summaries = run_workers(s, workers)
    files = sum(x["files"] for x in summaries)
    return {"workers": workers, "queue_wall_s": round(store.wall_s, 3), "read_wall_s": round(wall, 3),
            "files": files, "rejected": sum(x["rejected"] for x in summaries),
            "files_per_s": round(files / wall, 2) if wall else None, "per_worker": [x["files"] for x in summaries]}


def search_latency(root: Path, url: str) -> dict:
    """Time the 50 benchmark queries in-process on the team archive; count the pages it searches."""
    import psycopg
    result = measure.search_inprocess(root, queries(10_000))
    with psycopg.connect(url) as conn:
        result["indexed_pages"] = conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
    return result


def synthetic_graph(server: str, work: Path, links: int) -> dict:
    """Fill a team catalog with ``links`` references by SQL, then time ``related`` on hubs and leaves."""
    import psycopg
    url = new_database(server, "bench_graph")
    root = work / "graph"
    subprocess.run([*measure.archiver_argv(), "init", str(root), "--catalog", url], check=True,
                   capture_output=True)
    docs = max(1000, links // 10)
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO documents (id, sha256, size, format, mime, state, title, date, ingested_at, linked) "
            "SELECT i, md5(i::text) || md5((-i)::text), 1000, 'text', 'text/plain', 'indexed', 'document ' || i, "
            "to_char(date '2020-01-01' + (i %% 2000), 'YYYY-MM-DD'), '2026-01-01T00:00:00+00:00', 1 "
            "FROM generate_series(1, %s) i", (docs,))
        conn.execute("SELECT setval(pg_get_serial_sequence('documents', 'id'), %s)", (docs,))
        # Products are few and large (a product is named by a tenth of the papers), change
        # requests many and small: the shape of a real archive's graph.
        conn.execute(
            "INSERT INTO refs (doc_id, kind, value, role, evidence, location, position) "
            "SELECT 1 + (i::bigint * 7919) %% %s, CASE WHEN i %% 3 = 0 THEN 'product' ELSE 'change_request' END, "
            "CASE WHEN i %% 3 = 0 THEN 'P-' || (i %% 40) ELSE 'CR-2024-' || lpad((i %% 20000)::text, 5, '0') END, "
            "CASE WHEN i %% 3 = 0 THEN 'mentions' ELSE 'concerns' END, 'synthetic', 'page 1', i "
            "FROM generate_series(1, %s) i", (docs, links))
        # The links table that the neighbourhood query walks, as the catalog keeps it for references.
        for pair in ("'doc:' || doc_id, {node}", "{node}, 'doc:' || doc_id"):
            conn.execute(f"INSERT INTO links (node, other, step, origin) SELECT DISTINCT {pair}, 1, 'refs:' || doc_id "
                         "FROM refs".format(node=NODE))
        conn.execute("INSERT INTO products (code, name, aliases, updated_at) SELECT 'P-' || i, 'Product ' || i, "
                     "'[]', '2026-01-01T00:00:00+00:00' FROM generate_series(0, 39) i")
        conn.execute("ANALYZE")
    filled = time.perf_counter() - start
    from archiver import Archive
    arc = Archive(root)
    ids = ["P-1", "P-7", *(f"CR-2024-{k:05d}" for k in _named_crs(min(20_000, links))),
           "1", "500", str(docs // 2), str(docs)]
    times, sizes = [], {}
    try:
        for _ in range(2):
            times = []
            for ident in ids:
                t = time.perf_counter()
                sizes[ident] = len(arc.related(ident).neighbours)
                times.append(time.perf_counter() - t)
    finally:
        arc.close()
    return {"links": links, "documents": docs, "fill_s": round(filled, 1), "related": summary(times),
            "neighbours": sizes}


def _named_crs(count: int) -> list[int]:
    """Return the first, a middle and the last change request number the synthetic references use.

    Reference i names change request i mod 20,000 unless i is a multiple of 3 (a product).
    """
    picks = []
    for k in (1, count // 2, count - 1):
        while k % 3 == 0:
            k -= 1
        picks.append(k)
    return picks


def main(argv: list[str] | None = None) -> int:
    """Run the team benchmark; print a table and write JSON."""
    args = parse_args(argv)
    temp = None if args.workdir else tempfile.mkdtemp(prefix="archiver-team-bench-")
    work = Path(args.workdir or temp)
    work.mkdir(parents=True, exist_ok=True)
    try:
        server = args.server or start_server(work)
        echo(f"server {server}")
        share = args.scans / (args.n + args.scans) if args.scans else 0.0
        manifest = corpus.generate(work / "corpus", args.n + args.scans, args.seed, share)
        result: dict = {"command": " ".join(sys.argv), "machine": report.machine(),
                        "params": vars(args) | {"server": "throwaway" if not args.server else "given"}}
        if args.search_only:
            url = server.rsplit("/", 1)[0] + "/bench_team"
        else:
            echo("ingest of the electronic files into a team archive")
            url = new_database(server, "bench_team")
            s = team_subject(work / "team", work / "corpus", url, work / "logs" / "team")
            result["ingest"] = measure.ingest_electronic(s, manifest)
        echo("search")
        result["search"] = search_latency(work / "team", url)
        if args.search_only:
            args.extract = args.scans = args.links = 0
        if args.extract:
            result["extract"] = {}
            for workers in (1, 2):
                echo(f"reading a backlog of queued files with {workers} worker(s)")
                result["extract"][str(workers)] = extract_backlog(server, work, work / "corpus" / "electronic",
                                                                  workers)
            one, two = (result["extract"][k]["files_per_s"] for k in ("1", "2"))
            result["extract"]["speedup_2_workers"] = round(two / one, 2) if one and two else None
        if args.scans:
            result["ocr"] = {}
            for workers in (1, 2):
                echo(f"OCR backlog with {workers} worker(s)")
                result["ocr"][str(workers)] = ocr_backlog(server, work, work / "corpus" / "scans", workers)
            one, two = (result["ocr"][k]["pages_per_min"] for k in ("1", "2"))
            result["ocr"]["speedup_2_workers"] = round(two / one, 2) if one and two else None
        if args.links:
            echo(f"related on a synthetic graph of {args.links:,} references")
            result["graph"] = synthetic_graph(server, work, args.links)
        out = Path(args.out or REPO / "bench" / f"results-team-{args.n}.json")
        out.write_text(json.dumps(result, indent=1))
        print(table(result))
        echo(f"wrote {out}")
        return 0
    finally:
        if temp:
            subprocess.run(["bash", str(REPO / ".ci" / "postgres"), "stop", str(work / "pg")], capture_output=True)
            shutil.rmtree(temp, ignore_errors=True)


def table(r: dict) -> str:
    """Return the result as an aligned plain-text table."""
    rows = [("ingest, electronic", f"{r['ingest']['wall_s']} s, {r['ingest']['documents_per_s']} docs/s")
            if "ingest" in r else ("ingest, electronic", "not measured (--search-only)"),
            ("search in process, median / p95",
             f"{r['search']['median_ms']} / {r['search']['p95_ms']} ms (indexed pages: {r['search'].get('indexed_pages')})")]
    for k in ("1", "2"):
        if "extract" in r and k in r["extract"]:
            e = r["extract"][k]
            rows.append((f"queued files read by {k} worker(s)", f"{e['files']} files in {e['read_wall_s']} s: "
                                                               f"{e['files_per_s']} files/s {e['per_worker']}"))
    for k in ("1", "2"):
        if "ocr" in r and k in r["ocr"]:
            o = r["ocr"][k]
            rows.append((f"OCR backlog, {k} worker(s)", f"{o['pages']} pages in {o['ocr_wall_s']} s: "
                                                       f"{o['pages_per_min']} pages/min {o['per_worker']}"))
    if "graph" in r:
        g = r["graph"]
        rows.append((f"related on {g['links']:,} references, median / p95",
                     f"{g['related']['median_ms']} / {g['related']['p95_ms']} ms (max {g['related']['max_ms']} ms)"))
    width = max(len(a) for a, _ in rows)
    return "\n".join(f"{a.ljust(width)}  {b}" for a, b in rows)


if __name__ == "__main__":
    sys.exit(main())
