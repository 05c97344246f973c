"""Run the benchmark: generate a corpus, measure archiver, the component floor and Recoll; report.

Example::

    .venv/bin/python -m bench.run --n 1000
    .venv/bin/python -m bench.run --sizes 1000,10000 --scans-share 0 --workdir /tmp/bench --keep

Prints an aligned table on stdout (progress on stderr) and writes the JSON
result of each size (``--out``, default ``bench/results-{n}.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import corpus, floor, measure, recoll, report
from bench.queries import graph_ids, queries
from bench.report import echo

SCHEMA = 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="documents in the corpus (default 1000)")
    p.add_argument("--sizes", help="several corpus sizes in one run, e.g. 1000,10000 (overrides --n)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--scans-share", type=float, default=0.05, help="share of scanned documents (default 0.05)")
    p.add_argument("--scans-up-to", type=int, default=10_000,
                   help="sizes above this get no scans (default 10000: 100,000 runs electronic only)")
    p.add_argument("--no-recoll", action="store_true", help="skip Recoll")
    p.add_argument("--no-install", action="store_true", help="do not install Recoll when it is missing")
    p.add_argument("--no-cli", action="store_true", help="skip the command-line search timings")
    p.add_argument("--cli-queries", type=int, default=50, help="how many of the 50 queries to time via the CLI")
    p.add_argument("--watch-rounds", type=int, default=10, help="watcher probes (0: skip; default 10)")
    p.add_argument("--no-floor", action="store_true", help="skip the component floor")
    p.add_argument("--workers", type=int, default=0, help="floor workers (default: one per core, as archiver)")
    p.add_argument("--out", help="JSON output; '{n}' is replaced by the size (default bench/results-{n}.json)")
    p.add_argument("--workdir", help="where corpus and archive go; a corpus there is reused (default: temporary)")
    p.add_argument("--keep", action="store_true", help="keep the work folder (always kept with --workdir)")
    return p.parse_args(argv)


def run_size(n: int, args: argparse.Namespace, workdir: Path) -> dict:
    """Measure everything at one corpus size and return the result (without printing)."""
    share = args.scans_share if n <= args.scans_up_to else 0.0
    work = workdir / f"n{n}-seed{args.seed}-scans{share:g}"
    cores = os.cpu_count() or 1
    workers = args.workers or cores
    result: dict = {"schema": SCHEMA, "command": args.command, "machine": report.machine(),
                    "params": {"n": n, "seed": args.seed, "scans_share": share, "workers": workers, "cores": cores,
                               "cli_queries": 0 if args.no_cli else min(args.cli_queries, 50),
                               "watch_rounds": args.watch_rounds, "recoll": not args.no_recoll}}
    phase = _Phases(result.setdefault("timings", {}))
    with phase("generate_s", f"N={n}: generating the corpus"):
        manifest = corpus.generate(work / "corpus", n, args.seed, share)
    result["corpus"] = {k: v for k, v in manifest.items() if k != "files"}
    _measure_archiver(result, args, work, manifest, phase)
    if not args.no_floor:
        with phase("floor_s", "component floor"):
            result["floor"] = floor.floor(work / "corpus", work, workers, cores)
    if args.no_recoll:
        result["recoll"] = {"available": False, "reason": "--no-recoll"}
    else:
        with phase("recoll_s", "Recoll"):
            result["recoll"] = recoll.measure(work / "corpus", work, work / "logs", manifest, queries(n),
                                              not args.no_install)
    return report.finish(result)


def _measure_archiver(result: dict, args: argparse.Namespace, work: Path, manifest: dict, phase) -> None:
    """Measure archiver in a fresh archive: ingest, queries, watcher, memory and sizes."""
    n = manifest["documents"]
    archive = work / "archive"
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(work / "logs", ignore_errors=True)
    subject = measure.Subject(archive, work / "corpus", work / "logs")
    subject.init()
    ingest = result["ingest"] = {}
    with phase("ingest_electronic_s", "ingesting the electronic files"):
        ingest["electronic"] = measure.ingest_electronic(subject, manifest)
    with phase("ingest_scans_s", "ingesting the scans (OCR)"):
        ingest["scans"] = measure.ingest_scans(subject, manifest)
    with phase("reingest_s", "re-ingesting the unchanged tree"):
        ingest["reingest"] = measure.reingest(subject, manifest)
    qs = queries(n)
    with phase("search_s", "searching"):
        result["search"] = {"inprocess": measure.search_inprocess(archive, qs)}
        if not args.no_cli and args.cli_queries > 0:
            result["search"]["cli"] = measure.search_cli(subject, qs[:args.cli_queries])
            result["search"]["startup"] = measure.startup()
    doc_ids = list(range(1, ingest["electronic"]["documents"] + 1))
    with phase("graph_s", "related and timeline"):
        result.update(measure.graph_latency(archive, graph_ids(n, doc_ids)))
    with phase("watcher_s", "watcher latency"):
        result["watcher"] = measure.watcher_latency(subject, work, args.watch_rounds)
    result["memory"] = _memory(ingest)
    result["sizes"] = measure.sizes(archive, work / "corpus")


def _memory(ingest: dict) -> dict:
    parts = [p for p in ingest.values() if "peak_tree_rss_mb" in p]
    return {"peak_tree_rss_mb": max(p["peak_tree_rss_mb"] for p in parts),
            "max_rss_mb": max(p["max_rss_mb"] for p in parts),
            "peak_processes": max(p["peak_processes"] for p in parts),
            "by_command": {k: {"peak_tree_rss_mb": p["peak_tree_rss_mb"], "max_rss_mb": p["max_rss_mb"]}
                           for k, p in ingest.items() if "peak_tree_rss_mb" in p}}


class _Phases:
    """Time the phases of a run and say on stderr what is happening."""

    def __init__(self, timings: dict):
        self.timings = timings

    def __call__(self, key: str, what: str):
        self.key, self.what = key, what
        return self

    def __enter__(self):
        echo(f"[bench] {self.what} ...")
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.key] = round(time.perf_counter() - self.start, 2)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark at each size; print the tables; write the JSON files."""
    args = parse_args(argv)
    args.command = "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.n]
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="archiver-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    out = args.out or str(Path(__file__).resolve().parent / "results-{n}.json")
    if len(sizes) > 1 and "{n}" not in out:
        out = out.replace(".json", "") + "-{n}.json"
    try:
        for n in sizes:
            result = run_size(n, args, workdir.resolve())
            path = Path(out.replace("{n}", str(n)))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=1) + "\n")
            print(report.table(result))
            print(f"\nJSON: {path}\n", flush=True)
    finally:
        if not args.workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep or args.workdir:
            echo(f"[bench] work folder kept: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
