"""Turn one run's measurements into ratios, target verdicts and an aligned table."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone


def machine() -> dict:
    """Describe this machine: cores, memory, CPU, Python, Tesseract, load, date."""
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) * 1024 for line in _read("/proc/meminfo").splitlines()
                if line.startswith("MemTotal:")), 0)
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem / 2**30, 1), "free": _out(["free", "-h"]),
            "python": platform.python_version(), "platform": platform.platform(),
            "tesseract": (_out(["tesseract", "--version"]) or "").split("\n")[0] or None,
            "archiver": _archiver_version(), "loadavg_start": list(os.getloadavg()),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return ""


def _out(argv: list[str]) -> str | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _archiver_version() -> str | None:
    from importlib import metadata
    try:
        return metadata.version("archiver")
    except metadata.PackageNotFoundError:
        return None


def _ratio(a, b) -> float | None:
    return round(a / b, 3) if a is not None and b not in (None, 0) else None


def _get(result: dict, *path):
    for key in path:
        if not isinstance(result, dict):
            return None
        result = result.get(key)
    return result


def ratios(r: dict) -> dict:
    """Return archiver / floor and archiver / Recoll for ingest, and the search and OCR comparisons."""
    ingest = _get(r, "ingest", "electronic", "wall_s")
    return {
        "ingest_over_floor": _ratio(ingest, _get(r, "floor", "ingest", "wall_s")),
        "ingest_over_extract_floor": _ratio(ingest, _get(r, "floor", "extract", "wall_s")),
        "ingest_over_recollindex": _ratio(ingest, _get(r, "recoll", "index", "wall_s")),
        "search_inprocess_p95_over_recollq_p95": _ratio(_get(r, "search", "inprocess", "p95_ms"),
                                                         _get(r, "recoll", "search", "p95_ms")),
        "search_cli_p95_over_recollq_p95": _ratio(_get(r, "search", "cli", "p95_ms"),
                                                  _get(r, "recoll", "search", "p95_ms")),
        "search_cli_median_over_recollq_median": _ratio(_get(r, "search", "cli", "median_ms"),
                                                        _get(r, "recoll", "search", "median_ms")),
        "ocr_over_tesseract_ideal": _ratio(_get(r, "ingest", "scans", "ocr_pages_per_min"),
                                           _get(r, "floor", "tesseract", "ideal_pages_per_min")),
        "ocr_over_tesseract_pool": _ratio(_get(r, "ingest", "scans", "ocr_pages_per_min"),
                                          _get(r, "floor", "tesseract", "pool_pages_per_min")),
    }


# (name, where the value is, how it compares, limit, unit, the N the target is stated for)
TARGETS = (
    ("ingest within 1.5x of component floor", ("ratios", "ingest_over_floor"), "<=", 1.5, "x", 10_000),
    ("ingest faster than recollindex", ("ratios", "ingest_over_recollindex"), "<", 1.0, "x", 10_000),
    ("OCR >= 0.9 x Tesseract alone x cores", ("ratios", "ocr_over_tesseract_ideal"), ">=", 0.9, "x", None),
    ("search p95 in-process < 50 ms", ("search", "inprocess", "p95_ms"), "<", 50, "ms", None),
    ("CLI search p95 < 400 ms wall", ("search", "cli", "p95_ms"), "<", 400, "ms", None),
    ("related p95 < 100 ms", ("related", "p95_ms"), "<", 100, "ms", 10_000),
    ("timeline p95 < 100 ms", ("timeline", "p95_ms"), "<", 100, "ms", 10_000),
    ("unchanged re-ingest of 10,000 files < 5 s", ("ingest", "reingest", "wall_s"), "<", 5, "s", 10_000),
    ("watcher latency p95 < 2 s", ("watcher", "p95_ms"), "<", 2000, "ms", None),
    ("peak RSS (process tree) < 1 GB", ("memory", "peak_tree_rss_mb"), "<", 1024, "MB", 100_000),
)


def targets(r: dict) -> list[dict]:
    """Return every target of the issue with its measured value, the value / limit ratio and PASS/MISS."""
    n = _get(r, "params", "n")
    out = []
    for name, path, op, limit, unit, stated_n in TARGETS:
        value = _get(r, *path)
        if value is None:
            status = "n/a"
        else:
            ok = {"<": value < limit, "<=": value <= limit, ">=": value >= limit}[op]
            status = "PASS" if ok else "MISS"
        out.append({"target": name, "value": value, "unit": unit, "limit": f"{op} {limit}",
                    "ratio_to_limit": _ratio(value, limit), "status": status, "stated_for_n": stated_n,
                    "measured_at_n": n, "at_stated_scale": stated_n is None or n == stated_n})
    return out


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = "0" if value == 0 else f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value} {unit}".strip()


def _archiver_rows(r: dict) -> list[tuple[str, str, str]]:
    def f(*path, unit=""):
        return _fmt(_get(r, *path), unit)

    def spread(*path):
        return (f"median {f(*path, 'median_ms', unit='ms')}", f"p95 {f(*path, 'p95_ms', unit='ms')}")
    scans = (f"{f('ingest', 'scans', 'files_per_s')} docs/s, {f('ingest', 'scans', 'mb_per_s')} MB/s, "
             f"OCR {f('ingest', 'scans', 'ocr_pages_per_min')} pages/min"
             if _get(r, "ingest", "scans", "available") else "no scans in this corpus")
    watched = _get(r, "watcher", "available")
    return [
        ("corpus", f"{f('corpus', 'documents')} docs", f"{f('corpus', 'electronic')} electronic "
         f"({_fmt((_get(r, 'corpus', 'electronic_bytes') or 0) / 1e6, 'MB')}), {f('corpus', 'scans')} scans, "
         f"generated in {f('timings', 'generate_s', unit='s')}"),
        ("ingest electronic", f("ingest", "electronic", "wall_s", unit="s"),
         f"{f('ingest', 'electronic', 'files_per_s')} files/s, {f('ingest', 'electronic', 'documents_per_s')} "
         f"docs/s incl. attachments, {f('ingest', 'electronic', 'mb_per_s')} MB/s"),
        ("ingest scans (store + OCR)", f("ingest", "scans", "wall_s", unit="s"), scans),
        ("re-ingest unchanged", f("ingest", "reingest", "wall_s", unit="s"),
         f"{f('ingest', 'reingest', 'files')} files"),
        ("search in-process", spread("search", "inprocess")[1],
         f"{spread('search', 'inprocess')[0]}, first {f('search', 'inprocess', 'first_query_ms', unit='ms')}"),
        ("search CLI wall", spread("search", "cli")[1],
         f"{spread('search', 'cli')[0]} over {f('search', 'cli', 'n')}; archiver --version "
         f"{f('search', 'startup', 'archiver_version', 'median_ms', unit='ms')}, python -c pass "
         f"{f('search', 'startup', 'python', 'median_ms', unit='ms')}"),
        ("related", spread("related")[1],
         f"{spread('related')[0]}, first call {f('related', 'first_call_ms', unit='ms')}"),
        ("timeline", spread("timeline")[1],
         f"{spread('timeline')[0]}, first call {f('timeline', 'first_call_ms', unit='ms')}"),
        ("watcher file->searchable", spread("watcher")[1] if watched else "not available",
         spread("watcher")[0] if watched else str(_get(r, "watcher", "reason") or "")),
        ("peak RSS", f"{f('memory', 'peak_tree_rss_mb', unit='MB')} tree",
         f"largest process {f('memory', 'max_rss_mb', unit='MB')}"),
        ("archive size", f("sizes", "archive_mb", unit="MB"),
         f"originals {f('sizes', 'originals_mb', unit='MB')}, catalog {f('sizes', 'catalog_mb', unit='MB')}, "
         f"index {f('sizes', 'index_mb', unit='MB')}, graph cache {f('sizes', 'graph_cache_mb', unit='MB')}, "
         f"filed copies {f('sizes', 'filed_mb', unit='MB')}; corpus {f('sizes', 'corpus_mb', unit='MB')}"),
    ]


def _comparison_rows(r: dict) -> list[tuple[str, str, str]]:
    def f(*path, unit=""):
        return _fmt(_get(r, *path), unit)
    tesseract = (f"{f('floor', 'tesseract', 'mean_page_s', unit='s')}/page on one core; ideal x cores "
                 f"{f('floor', 'tesseract', 'ideal_pages_per_min')} pages/min"
                 if _get(r, "floor", "tesseract", "available") else str(_get(r, "floor", "tesseract", "reason") or ""))
    rows = [
        ("floor: extraction alone", f("floor", "extract", "wall_s", unit="s"),
         f"{f('floor', 'extract', 'files_per_s')} files/s with {f('floor', 'extract', 'workers')} workers"),
        ("floor: Whoosh indexing alone", f("floor", "index", "wall_s", unit="s"),
         f"{f('floor', 'index', 'documents_per_s')} docs/s"),
        ("floor: Tesseract alone", f"{f('floor', 'tesseract', 'pool_pages_per_min')} pages/min", tesseract),
    ]
    if _get(r, "recoll", "available"):
        rows += [("recollindex", f("recoll", "index", "wall_s", unit="s"),
                  f"{f('recoll', 'index', 'files_per_s')} files/s, {f('recoll', 'index', 'documents')} docs"),
                 ("recollq", f"p95 {f('recoll', 'search', 'p95_ms', unit='ms')}",
                  f"median {f('recoll', 'search', 'median_ms', unit='ms')}")]
    else:
        rows.append(("Recoll", "not available", str(_get(r, "recoll", "reason") or "")))
    return rows + [(f"ratio {k}", _fmt(v), "") for k, v in r.get("ratios", {}).items()]


def table(r: dict) -> str:
    """Return the run as an aligned text table: measurements, ratios, then targets."""
    rows = _archiver_rows(r) + _comparison_rows(r)
    w0 = max(len(a) for a, _, _ in rows)
    w1 = max(len(b) for _, b, _ in rows)
    lines = [f"archiver benchmark, N = {_get(r, 'params', 'n')} ({_get(r, 'machine', 'nproc')} cores, "
             f"{_get(r, 'machine', 'cpu')})", ""]
    lines += [f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows]
    lines += ["", "targets (issue item 3)"]
    t = r.get("targets", [])
    w = max((len(x["target"]) for x in t), default=10)
    for x in t:
        scale = "" if x["at_stated_scale"] else f"  (stated for N={x['stated_for_n']:,})"
        lines.append(f"  {x['target']:<{w}}  {_fmt(x['value'], x['unit']):>14}  {x['limit']:>7}  "
                     f"{x['status']:<4}{scale}")
    return "\n".join(lines)


def finish(r: dict) -> dict:
    """Add ratios and targets to a run's result and return it."""
    r["ratios"] = ratios(r)
    r["targets"] = targets(r)
    r["machine"]["loadavg_end"] = list(os.getloadavg())
    return r


def echo(text: str) -> None:
    """Print progress to stderr (the table goes to stdout)."""
    print(text, file=sys.stderr, flush=True)
