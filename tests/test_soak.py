"""Concurrency soak: the watcher ingests a stream of files while two processes search and one exports."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from archiver import Archive

SECONDS = float(os.environ.get("ARCHIVER_SOAK_SECONDS", "40"))
EXE = str(Path(sys.executable).with_name("archiver"))

SEARCHER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from archiver import Archive
    root, stop, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    problems, rounds, seen = [], 0, 0
    while not stop.exists():
        archive = Archive(root)
        try:
            hits, total = archive.search("soaktoken*", limit=10000)
            ids = [h.doc_id for h in hits]
            docs = archive.catalog.documents(ids)
            if len(set(ids)) != len(ids):
                problems.append(f"duplicate hits: {ids}")
            for h in hits:
                if h.doc_id not in docs:
                    problems.append(f"hit {h.doc_id} not in the catalog")
                elif "soaktoken" not in archive.catalog.text(h.doc_id):
                    problems.append(f"hit {h.doc_id} does not hold the word")
            if len(hits) < seen:
                problems.append(f"documents disappeared: {seen} then {len(hits)}")
            seen = max(seen, len(hits))
        except Exception as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            archive.close()
        rounds += 1
        time.sleep(0.2)
    out.write_text(json.dumps({"rounds": rounds, "problems": problems[:20], "seen": seen}))
""")

EXPORTER = textwrap.dedent("""
    import json, shutil, subprocess, sys, time
    from pathlib import Path
    exe, root, stop, work, out = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
    problems, rounds = [], 0
    while not stop.exists():
        bundle = work / f"bundle-{rounds}"
        done = subprocess.run([exe, "--archive", root, "export", "--query", "soaktoken*", "--out", str(bundle)],
                              capture_output=True, text=True)
        if done.returncode != 0 and "no documents" not in (done.stderr + done.stdout).lower():
            problems.append(f"export: {done.stderr.strip()[-300:]}")
        elif bundle.exists():
            check = subprocess.run([exe, "verify", str(bundle)], capture_output=True, text=True)
            if check.returncode != 0:
                problems.append(f"verify: {check.stdout.strip()[-300:]}")
            shutil.rmtree(bundle, ignore_errors=True)
        rounds += 1
        time.sleep(2)      # exports hold the writer lock; a person exports now and then, not nonstop
    out.write_text(json.dumps({"rounds": rounds, "problems": problems[:20]}))
""")


def test_watcher_searchers_and_exporter_run_together_without_loss(tmp_path):
    root, inbox, stop = tmp_path / "archive", tmp_path / "inbox", tmp_path / "stop"
    inbox.mkdir()
    Archive.init(root).close()
    toml = root / "archive.toml"
    toml.write_text(toml.read_text().replace("settle = 2.0", "settle = 0.3"))
    log = open(tmp_path / "watch.log", "w")          # a pipe nobody reads would fill and block the watcher
    watcher = subprocess.Popen([EXE, "--archive", str(root), "watch", str(inbox), "--json"],
                               stdout=log, stderr=subprocess.STDOUT, text=True)
    others = [subprocess.Popen([sys.executable, "-c", SEARCHER, str(root), str(stop), str(tmp_path / f"s{i}.json")])
              for i in range(2)]
    others.append(subprocess.Popen([sys.executable, "-c", EXPORTER, EXE, str(root), str(stop), str(tmp_path),
                                    str(tmp_path / "e.json")]))
    written = 0
    deadline = time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline:
            (inbox / f"note-{written:04d}.txt").write_text(f"soaktoken{written:04d} note number {written}\n")
            written += 1
            time.sleep(0.1)
        found = 0
        settle_by = time.monotonic() + 120
        while time.monotonic() < settle_by:
            archive = Archive(root)
            found = archive.search("soaktoken*", limit=100000)[1]
            archive.close()
            if found >= written:
                break
            time.sleep(0.5)
    finally:
        stop.write_text("stop")
        for proc in others:
            proc.wait(timeout=120)
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(timeout=120)
        log.close()
    assert watcher.returncode == 0, (tmp_path / "watch.log").read_text()[-2000:]
    assert found == written
    for name in ("s0.json", "s1.json", "e.json"):
        report = json.loads((tmp_path / name).read_text())
        assert report["problems"] == [], (name, report["problems"])
        assert report["rounds"] > 0
    archive = Archive(root)
    try:
        paths = [r[0] for r in archive.catalog.db.execute("SELECT path FROM sources WHERE path LIKE ?",
                                                          (str(inbox) + "/%",))]
        assert len(paths) == len(set(paths)) == written
        assert archive.catalog.unindexed() == []
    finally:
        archive.close()
