"""Measure archiver itself: ingest, OCR, re-ingest, search, related and timeline, watcher, sizes.

Ingest runs through the installed command line in a subprocess (as a person
runs it), queries run both in this process (``archiver.Archive``) and as
command-line calls whose wall time includes interpreter start-up.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import string
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from bench import proc, vocab
from bench.queries import Query
from bench.stats import rate, summary


def archiver_argv() -> list[str]:
    """Return the command that runs archiver: the console script beside this interpreter."""
    script = Path(sys.executable).with_name("archiver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "archiver.cli"]


class Subject:
    """One archive under test, the corpus it takes in, and where command output goes."""

    def __init__(self, archive: Path, corpus: Path, logs: Path):
        self.archive, self.corpus, self.logs = Path(archive), Path(corpus), Path(logs)
        self.argv = [*archiver_argv(), "--archive", str(self.archive)]

    def run(self, name: str, *args: str) -> proc.Run:
        """Run one archiver command, keeping its output under ``logs/name``."""
        return proc.run([*self.argv, *args], out_dir=self.logs / name, interval=0.1)

    def init(self) -> float:
        """Create the archive with the corpus's product registry; return the wall time."""
        return self.run("init", "init", "--products", str(self.corpus / "products.toml")).wall_s


def _memory(*runs: proc.Run) -> dict:
    return {"max_rss_mb": round(max(r.max_rss_mb for r in runs), 1),
            "peak_tree_rss_mb": round(max(r.peak_tree_rss_mb for r in runs), 1),
            "ru_maxrss_mb": round(max(r.ru_maxrss_mb for r in runs), 1),
            "main_anon_mb": round(max(r.own_anon_mb for r in runs), 1),
            "main_file_mb": round(max(r.own_file_mb for r in runs), 1),
            "peak_processes": max(r.peak_procs for r in runs)}


def ingest_electronic(s: Subject, manifest: dict) -> dict:
    """Ingest the electronic folder; return wall time, throughput, outcome counts and memory."""
    r = s.run("ingest-electronic", "ingest", str(s.corpus / "electronic"), "--json")
    rows = json.loads(r.stdout)
    files, size = manifest["electronic"], manifest["electronic_bytes"]
    return {"wall_s": round(r.wall_s, 3), "files": files, "documents": len(rows),
            "attachments": sum(1 for row in rows if row.get("parent") is not None),
            "statuses": dict(Counter(row["status"] for row in rows)), "bytes": size,
            "files_per_s": rate(files, r.wall_s), "documents_per_s": rate(len(rows), r.wall_s),
            "mb_per_s": rate(size / 1e6, r.wall_s), **_memory(r), "rss_series_mb": r.rss_series()}


def ingest_scans(s: Subject, manifest: dict) -> dict:
    """Store the scans (``ingest --no-ocr``), then read them (``archiver ocr``); time both."""
    files, size = manifest["scans"], manifest["scan_bytes"]
    if not files:
        return {"available": False, "files": 0}
    store = s.run("ingest-scans", "ingest", str(s.corpus / "scans"), "--no-ocr", "--json")
    ocr = s.run("ocr", "ocr", "--json")
    report = json.loads(ocr.stdout)
    wall = store.wall_s + ocr.wall_s
    return {"available": True, "files": files, "bytes": size, "store_wall_s": round(store.wall_s, 3),
            "ocr_wall_s": round(ocr.wall_s, 3), "wall_s": round(wall, 3), "files_per_s": rate(files, wall),
            "mb_per_s": rate(size / 1e6, wall), "pages": report.get("pages", 0),
            "failed_pages": report.get("failed_pages", 0), "warning": report.get("warning"),
            "ocr_pages_per_min": round(60 * report.get("pages", 0) / ocr.wall_s, 2) if ocr.wall_s else None,
            **_memory(store, ocr)}


def reingest(s: Subject, manifest: dict) -> dict:
    """Ingest the whole unchanged corpus again; every input should come back ``unchanged``."""
    folders = [str(s.corpus / f) for f in ("electronic", "scans") if (s.corpus / f).is_dir()]
    r = s.run("reingest", "ingest", *folders, "--json")
    rows = json.loads(r.stdout)
    return {"wall_s": round(r.wall_s, 3), "files": manifest["documents"],
            "statuses": dict(Counter(row["status"] for row in rows)),
            "files_per_s": rate(manifest["documents"], r.wall_s), **_memory(r)}


# -- queries --------------------------------------------------------------------

def _day(value: str | None) -> datetime | None:
    # As `archiver search --after/--before` reads them.
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc) if value else None


def _passes(func, items: list, passes: int = 2) -> tuple[list[list[float]], list[dict]]:
    """Call ``func`` on every item, ``passes`` times over; return the times per pass and the last results."""
    times: list[list[float]] = []
    rows: list[dict] = []
    for _ in range(passes):
        times.append([])
        rows = []
        for item in items:
            start = time.perf_counter()
            try:
                found, error = func(item), None
            except Exception as exc:  # noqa: BLE001 - a failing query is reported, not fatal
                found, error = None, f"{type(exc).__name__}: {exc}"
            times[-1].append(time.perf_counter() - start)
            rows.append({"ms": round(times[-1][-1] * 1000, 2), "found": found, "error": error})
    return times, rows


def search_inprocess(archive: Path, queries: list[Query]) -> dict:
    """Time ``Archive.search`` for each query: a first (cold) pass, then the measured (warm) pass."""
    from archiver import Archive
    start = time.perf_counter()
    arc = Archive(archive)
    opened = time.perf_counter() - start

    def search(q: Query) -> int:
        return arc.search(q.text, formats=q.formats, after=_day(q.after), before=_day(q.before),
                          products=q.products, change_requests=q.crs)[1]
    try:
        (cold, warm), rows = _passes(search, queries)
    finally:
        arc.close()
    by_kind = {kind: summary([t for t, q in zip(warm, queries) if q.kind == kind])
               for kind in dict.fromkeys(q.kind for q in queries)}
    return {"open_ms": round(opened * 1000, 2), "first_query_ms": round(cold[0] * 1000, 2),
            "cold": summary(cold), **summary(warm), "by_kind": by_kind,
            "errors": sum(1 for r in rows if r["error"]),
            "queries": [{"kind": q.kind, "query": q.label(), "hits": r["found"], "ms": r["ms"], "error": r["error"]}
                        for q, r in zip(queries, rows)]}


def search_cli(s: Subject, queries: list[Query]) -> dict:
    """Time ``archiver search --json`` per query as a new process, start-up included."""
    env = dict(os.environ)
    times, codes = [], []
    for q in queries:
        seconds, code = proc.wall([*s.argv, "search", *q.cli_args(), "--json"], env=env)
        times.append(seconds)
        codes.append(code)
    return {**summary(times), "failed": sum(1 for c in codes if c != 0),
            "queries": [{"query": q.label(), "ms": round(t * 1000, 1), "exit": c}
                        for q, t, c in zip(queries, times, codes)]}


def startup(repeat: int = 5) -> dict:
    """Time the bare interpreter and ``archiver --version`` (which loads the whole CLI)."""
    python = [proc.wall([sys.executable, "-c", "pass"])[0] for _ in range(repeat)]
    version = [proc.wall([*archiver_argv(), "--version"])[0] for _ in range(repeat)]
    return {"python": summary(python), "archiver_version": summary(version)}


def graph_latency(archive: Path, ids: list[str], timeline_count: int = 15) -> dict:
    """Time ``Archive.related`` for every id and ``Archive.timeline`` for the first ``timeline_count``."""
    from archiver import Archive
    arc = Archive(archive)
    try:
        (r_cold, r_warm), r_rows = _passes(lambda i: len(arc.related(i).neighbours), ids)
        (t_cold, t_warm), t_rows = _passes(lambda i: len(arc.timeline(i)), ids[:timeline_count])
    finally:
        arc.close()

    def part(cold, warm, rows, asked):
        return {"first_call_ms": round(cold[0] * 1000, 2), "cold": summary(cold), **summary(warm),
                "errors": sum(1 for r in rows if r["error"]),
                "ids": [{"id": i, "results": r["found"], "ms": r["ms"], "error": r["error"]}
                        for i, r in zip(asked, rows)]}
    return {"related": part(r_cold, r_warm, r_rows, ids),
            "timeline": part(t_cold, t_warm, t_rows, ids[:timeline_count])}


# -- watcher --------------------------------------------------------------------

def watch_available() -> bool:
    """Tell whether this archiver has a ``watch`` command."""
    return proc.wall([*archiver_argv(), "watch", "--help"])[1] == 0


def watcher_latency(s: Subject, workdir: Path, rounds: int, timeout: float = 30.0) -> dict:
    """Start ``archiver watch`` on an inbox; time 'text file closed' -> 'found by search', ``rounds`` times.

    The first probe also waits for the watcher to start; it is reported apart.
    """
    if rounds <= 0 or not watch_available():
        return {"available": False, "reason": "no `archiver watch` command" if rounds > 0 else "not asked"}
    from archiver import Archive
    inbox = Path(workdir) / "watch-inbox"
    shutil.rmtree(inbox, ignore_errors=True)      # files left by an earlier run would be taken at start
    inbox.mkdir(parents=True)
    nonce = "".join(random.Random().choices(string.ascii_lowercase, k=6))
    logs = s.logs / "watch"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout", "wb") as out, open(logs / "stderr", "wb") as err:
        watcher = subprocess.Popen([*s.argv, "watch", str(inbox)], stdout=out, stderr=err,
                                   stdin=subprocess.DEVNULL)
    arc = Archive(s.archive)
    samples, first, missed = [], None, 0
    try:
        for k in range(rounds + 1):
            word = f"wq{nonce}{vocab.token(k)[2:]}"      # new to this archive, whatever ran before
            with open(inbox / f"probe-{k:03d}.txt", "w", encoding="utf-8") as fh:
                fh.write(f"Watcher probe {k}\n\nThe unique word of this note is {word}.\n")
            closed = time.perf_counter()
            if not _wait_searchable(arc, word, watcher, timeout * (4 if k == 0 else 1)):
                missed += 1
                if watcher.poll() is not None:
                    break
                continue
            latency = time.perf_counter() - closed
            if k == 0:
                first = latency
            else:
                samples.append(latency)
    finally:
        arc.close()
        _stop(watcher)
    error = (logs / "stderr").read_text(errors="replace")[-500:] if watcher.returncode not in (0, -2, 130) else None
    return {"available": True, "first_with_startup_ms": round(first * 1000, 1) if first is not None else None,
            **summary(samples), "missed": missed, "exit": watcher.returncode, "error": error}


def _wait_searchable(arc, word: str, watcher: subprocess.Popen, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if arc.search(word)[1]:
                return True
        except Exception:  # noqa: BLE001 - the index may be mid-commit; ask again
            pass
        if watcher.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def _stop(watcher: subprocess.Popen) -> None:
    if watcher.poll() is None:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(15)
        except subprocess.TimeoutExpired:
            watcher.kill()
            watcher.wait()


# -- sizes ----------------------------------------------------------------------

def tree_bytes(path: Path, seen: set | None = None) -> int:
    """Return the total size of the files under ``path``, each inode once (hard links count once)."""
    seen = set() if seen is None else seen
    path = Path(path)
    paths = [path] if path.is_file() else (Path(d) / f for d, _, files in os.walk(path) for f in files)
    total = 0
    for p in paths:
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def sizes(archive: Path, corpus: Path) -> dict:
    """Return the archive's size on disk, part by part, in MB, and against the corpus.

    Files are counted once however many hard links they have: ``filed_mb`` is
    what the filed tree adds beyond the originals (copies, not links).
    """
    mb = lambda b: round(b / 1e6, 2)  # noqa: E731
    archive, seen = Path(archive), set()
    parts = {"originals_mb": tree_bytes(archive / "originals", seen),
             "catalog_mb": sum(tree_bytes(p, seen) for p in archive.glob("catalog.sqlite*")),
             "index_mb": tree_bytes(archive / "index", seen),
             "graph_cache_mb": tree_bytes(archive / "graph.cache", seen) if (archive / "graph.cache").exists() else 0,
             "filed_mb": tree_bytes(archive / "filed", seen) if (archive / "filed").exists() else 0}
    total = sum(parts.values()) + tree_bytes(archive, seen)
    corpus_bytes = sum(tree_bytes(Path(corpus) / f) for f in ("electronic", "scans") if (Path(corpus) / f).exists())
    return {"archive_mb": mb(total), **{k: mb(v) for k, v in parts.items()}, "corpus_mb": mb(corpus_bytes),
            "archive_over_corpus": round(total / corpus_bytes, 2) if corpus_bytes else None}
