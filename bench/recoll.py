"""Measure Recoll on the same files: ``recollindex`` of the electronic folder, ``recollq`` per query.

When ``recollindex`` is missing and we are root with ``apt-get``, the Debian
packages ``recollcmd`` (the command-line half of ``recoll``: recollindex and
recollq, without the Qt GUI) and ``poppler-utils`` (pdftotext, which Recoll
needs to read PDFs) are installed. Recoll runs with a configuration of its own
in a temporary folder (``-c DIR``): ``topdirs`` is the corpus folder, aspell
is off (``noaspell``), stems are English only, as archiver's.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from bench import proc
from bench.queries import Query
from bench.stats import rate, summary

PACKAGES = ["recollcmd", "poppler-utils", "python3"]


def ensure_installed(allow_install: bool = True) -> str | None:
    """Return why Recoll cannot run here, or None when ``recollindex`` and ``recollq`` are ready."""
    if shutil.which("recollindex") and shutil.which("recollq"):
        return None
    if not allow_install:
        return "recollindex is not installed"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "recollindex is not installed (install the Debian packages recollcmd and poppler-utils as root)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not shutil.which("recollindex"):
        return f"could not install Recoll: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
    return None


def version() -> str | None:
    """Return the installed Recoll version."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "recollcmd"], capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


def configure(confdir: Path, topdir: Path) -> None:
    """Write a Recoll configuration that indexes ``topdir`` and nothing else."""
    confdir.mkdir(parents=True, exist_ok=True)
    (confdir / "recoll.conf").write_text(
        f"topdirs = {topdir}\n"
        "noaspell = 1\n"
        "indexStemmingLanguages = english\n"
        "loglevel = 1\n"
        "logfilename = stderr\n")


def index(confdir: Path, topdir: Path, logs: Path, files: int, size: int) -> dict:
    """Run ``recollindex`` on ``topdir`` with a fresh configuration; time it and count what it indexed."""
    configure(confdir, topdir)
    env = {**os.environ, "RECOLL_CONFDIR": str(confdir)}
    r = proc.run(["recollindex", "-c", str(confdir)], env=env, out_dir=logs / "recollindex", check=False)
    count = _count(confdir)
    missing = (confdir / "missing").read_text().strip() if (confdir / "missing").exists() else ""
    return {"wall_s": round(r.wall_s, 3), "exit": r.returncode, "files": files, "documents": count,
            "files_per_s": rate(files, r.wall_s), "mb_per_s": rate(size / 1e6, r.wall_s),
            "max_rss_mb": round(r.max_rss_mb, 1), "peak_tree_rss_mb": round(r.peak_tree_rss_mb, 1),
            "missing_helpers": missing or None,
            "index_mb": round(sum(f.stat().st_size for f in (confdir / "xapiandb").rglob("*") if f.is_file()) / 1e6, 2)}


def _count(confdir: Path) -> int | None:
    """Return how many documents (attachments included, folders not) the index holds."""
    counts = []
    for query in ("mime:*", "mime:inode/directory"):
        out = subprocess.run(["recollq", "-c", str(confdir), "-Q", "-E", query], capture_output=True, text=True)
        m = re.search(r"^(\d+) results", out.stdout, re.M)
        counts.append(int(m.group(1)) if m else 0)
    return counts[0] - counts[1] if counts[0] else None


def search(confdir: Path, queries: list[Query]) -> dict:
    """Time ``recollq`` (20 results with abstracts, as archiver shows snippets) for each query."""
    env = {**os.environ, "RECOLL_CONFDIR": str(confdir)}
    times, rows = [], []
    for q in queries:
        argv = ["recollq", "-c", str(confdir), "-n", "20", "-A", q.recoll]
        seconds, code = proc.wall(argv, env=env)
        times.append(seconds)
        rows.append({"query": q.recoll, "ms": round(seconds * 1000, 1), "exit": code})
    return {**summary(times), "failed": sum(1 for r in rows if r["exit"] != 0), "queries": rows}


def measure(corpus: Path, workdir: Path, logs: Path, manifest: dict, queries: list[Query],
            allow_install: bool) -> dict:
    """Index the electronic folder with Recoll and run the queries; report why not when it cannot."""
    problem = ensure_installed(allow_install)
    if problem:
        return {"available": False, "reason": problem}
    confdir = Path(workdir) / "recoll-conf"
    shutil.rmtree(confdir, ignore_errors=True)
    indexed = index(confdir, Path(corpus) / "electronic", logs, manifest["electronic"], manifest["electronic_bytes"])
    return {"available": True, "version": version(), "index": indexed, "search": search(confdir, queries)}
