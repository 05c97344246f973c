"""Profile where archiver spends its time: ingest (main process and workers), OCR, queries, start-up.

Example::

    .venv/bin/python -m bench.profile --n 1000 --workdir /tmp/bench-profile

Ingest's main process runs under cProfile (``python -m cProfile -m
archiver.cli ... ingest``); what the workers do is profiled by running the same
extraction calls (``archiver.stages.extract_original`` on every stored
original) in one process; OCR by ``archiver.ocr.ocr_page`` on a few scans;
queries by the benchmark's 50 searches and 20 related / 15 timeline ids; start-up
by ``python -X importtime``. Prints a summary (and writes it to ``--out``); the
``.pstats`` files stay in the work folder for ``python -m pstats`` or snakeviz.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from bench import corpus, measure
from bench.queries import graph_ids, queries

ROOT = Path(__file__).resolve().parent.parent


def _where(filename: str) -> str:
    if filename == "~" or filename.startswith("<"):
        return "(C builtins)"
    path = filename.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    root = str(ROOT) + "/"
    if path.startswith(root):
        rel = path[len(root):].removesuffix(".py").replace("/__init__", "")
        return rel.replace("/", ".")
    return "stdlib:" + Path(path).stem


def _label(key: tuple) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    path = filename.replace("\\", "/")
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3.":
                path = path.split("/", 1)[-1]
            break
    return f"{path}:{line}({func})"


def summarise(stats: pstats.Stats, title: str, top: int) -> str:
    """Return the total, the time by package, and the top functions by own time and by cumulative time."""
    raw = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    by_package: dict[str, float] = defaultdict(float)
    for key, (_, _, tt, _, _) in raw.items():
        by_package[_where(key[0])] += tt
    lines = [f"== {title}: {total:.2f} s profiled", "", "own time by package/module:"]
    for name, tt in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
        lines.append(f"  {tt:8.2f} s  {100 * tt / total:5.1f}%  {name}")
    lines += ["", "top functions by own time (tottime):"]
    for key, (_, nc, tt, ct, _) in sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]:
        lines.append(f"  {tt:8.2f} s  {nc:>9}  {_label(key)}")
    lines += ["", "top functions by cumulative time (archiver and indexes only):"]
    ours = [(k, v) for k, v in raw.items() if _where(k[0]).startswith(("archiver", "indexes"))]
    for key, (_, nc, tt, ct, _) in sorted(ours, key=lambda kv: -kv[1][3])[:top]:
        lines.append(f"  {ct:8.2f} s  {nc:>9}  {_label(key)}")
    return "\n".join(lines) + "\n"


def profile_call(func, path: Path) -> pstats.Stats:
    """Run ``func()`` under cProfile, save the stats to ``path`` and return them."""
    profiler = cProfile.Profile()
    profiler.runcall(func)
    profiler.dump_stats(str(path))
    return pstats.Stats(str(path), stream=io.StringIO())


def ingest_main(subject: measure.Subject, folder: Path, out: Path) -> tuple[pstats.Stats, float]:
    """Profile the main process of ``archiver ingest FOLDER`` (the workers are not in this profile)."""
    argv = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "archiver.cli",
            "--archive", str(subject.archive), "ingest", str(folder), "--json"]
    import time
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return pstats.Stats(str(out), stream=io.StringIO()), time.perf_counter() - start


def worker_side(archive: Path, out: Path) -> pstats.Stats:
    """Profile, in one process, the extraction calls the workers made for every stored original."""
    from archiver import Archive, stages
    from archiver.extract import Limits
    arc = Archive(archive)
    jobs = [(str(arc.store.path_for(d.sha256)), d.mime)
            for d in arc.catalog.documents(arc.catalog.indexable_ids()).values() if d.format != "image"]
    arc.close()
    return profile_call(lambda: [stages.extract_original(p, m, Limits()) for p, m in jobs], out)


def ocr_side(scans: Path, out: Path, pages: int = 5) -> pstats.Stats | None:
    """Profile ``archiver.ocr.ocr_page`` on the first few scans (Tesseract runs as a subprocess)."""
    files = sorted(scans.glob("*.png"))[:pages] if scans.is_dir() else []
    if not files or shutil.which("tesseract") is None:
        return None
    from archiver import ocr
    return profile_call(lambda: [ocr.ocr_page(str(f), "image/png", 1, ("eng",), 200_000_000) for f in files], out)


def queries_side(archive: Path, n: int, documents: int, out: Path) -> pstats.Stats:
    """Profile the 50 searches, then related for 20 ids and timeline for 15, on a warm archive."""
    from archiver import Archive
    arc = Archive(archive)
    qs, ids = queries(n), graph_ids(n, list(range(1, documents + 1)))

    def work():
        for q in qs:
            arc.search(q.text, formats=q.formats, after=measure._day(q.after), before=measure._day(q.before),
                       products=q.products, change_requests=q.crs)
        for i in ids:
            arc.related(i)
        for i in ids[:15]:
            arc.timeline(i)
    arc.search("warm-up")
    stats = profile_call(work, out)
    arc.close()
    return stats


def import_times(top: int) -> str:
    """Return the slowest imports of ``archiver.cli`` (what every command pays at start-up)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import archiver.cli"], cwd=ROOT,
                          capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), int(m.group(1)), len(m.group(3)), m.group(4)))
    total = next((c for c, _, depth, name in rows if name == "archiver.cli"), 0)
    lines = [f"== start-up: import archiver.cli takes {total / 1000:.0f} ms (cumulative, -X importtime)", "",
             "slowest imports, any depth (cumulative ms, own ms, module):"]
    for cumulative, own, depth, name in sorted(rows, key=lambda r: -r[0])[:top]:
        lines.append(f"  {cumulative / 1000:8.1f}  {own / 1000:7.1f}  {name}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) a corpus, ingest it under the profiler, and print where the time goes."""
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scans-share", type=float, default=0.05)
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--workdir", help="work folder (kept); default: a temporary one, removed")
    p.add_argument("--out", help="also write the summary to this file")
    args = p.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="archiver-profile-")).resolve()
    work = workdir / f"n{args.n}-seed{args.seed}-scans{args.scans_share:g}"
    try:
        manifest = corpus.generate(work / "corpus", args.n, args.seed, args.scans_share)
        archive = work / "archive-profile"
        shutil.rmtree(archive, ignore_errors=True)
        subject = measure.Subject(archive, work / "corpus", work / "logs-profile")
        subject.init()
        main_stats, wall = ingest_main(subject, work / "corpus" / "electronic", work / "ingest-main.pstats")
        parts = [f"archiver ingest of {manifest['electronic']} electronic files: {wall:.1f} s wall under cProfile\n",
                 summarise(main_stats, "ingest, main process", args.top),
                 summarise(worker_side(archive, work / "ingest-workers.pstats"),
                           "ingest, worker side (extract_original on every original, one process)", args.top)]
        ocr_stats = ocr_side(work / "corpus" / "scans", work / "ocr.pstats")
        if ocr_stats:
            parts.append(summarise(ocr_stats, "OCR (ocr_page on 5 scans)", 10))
        documents = manifest["electronic"] + manifest["attachments"]
        parts.append(summarise(queries_side(archive, args.n, documents, work / "queries.pstats"),
                               "queries (50 searches, 20 related, 15 timeline; warm)", args.top))
        parts.append(import_times(args.top))
        text = "\n".join(parts)
        print(text)
        if args.out:
            Path(args.out).write_text(text)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
