"""Crash safety: SIGKILL at random moments never costs a file, a partial original or a duplicate."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archiver import Archive
from archiver.catalog import GENESIS, audit_hash
from tests.makers import make_docx, make_eml, make_pdf

ROUNDS = int(os.environ.get("ARCHIVER_CRASH_ROUNDS", "30"))
EXE = str(Path(sys.executable).with_name("archiver"))


def add_files(inbox: Path, round_no: int, rng: random.Random) -> None:
    """Drop a mixed handful of new files into the inbox."""
    folder = inbox / f"round-{round_no:02d}"
    folder.mkdir(parents=True)
    word = f"token{round_no:02d}"
    for i in range(4):
        (folder / f"note-{i}.txt").write_text(f"{word} note {i} {rng.random()}\n" * 50)
    (folder / "minutes.md").write_text(f"# Minutes {word}\n\nCR-2024-{round_no:04d} approved.\n")
    make_pdf(folder / "memo.pdf", [f"{word} memo page {p} {rng.random()}" for p in range(3)], title=f"Memo {word}")
    make_docx(folder / "form.docx", [f"{word} change request form"], table=[["Requester", "Ann"], ["Date", "2024"]])
    make_eml(folder / "mail.eml", subject=f"{word} mail", body=f"{word} body\n", message_id=f"<m{round_no}@x>",
             attachments=[("quote.txt", f"{word} quote {rng.random()}".encode(), "text/plain")])


def check_consistent(root: Path) -> None:
    """Every stored document has its whole original, the audit chain holds, the index is a subset."""
    archive = Archive(root)
    try:
        db = archive.catalog.db
        for doc_id, sha in db.execute("SELECT id, sha256 FROM documents"):
            assert archive.store.verify(sha), f"original of document {doc_id} missing or partial"
        prev = GENESIS
        for row in db.execute("SELECT * FROM audit ORDER BY id"):
            assert row["prev_hash"] == prev, f"audit entry {row['id']} does not chain"
            assert row["hash"] == audit_hash(prev, row["at"], row["action"], row["doc_id"], row["sha256"],
                                             row["detail"]), f"audit entry {row['id']} altered"
            prev = row["hash"]
        catalog_ids = set(archive.catalog.indexable_ids())
        indexed_ids = {r[0] for r in db.execute("SELECT id FROM documents WHERE indexed_gen IS NOT NULL")}
        index_ids = archive.fulltext.doc_ids()
        assert index_ids <= catalog_ids, f"orphan index entries: {index_ids - catalog_ids}"
        assert indexed_ids <= index_ids, f"marked indexed but missing: {indexed_ids - index_ids}"
    finally:
        archive.close()


def test_sigkill_during_ingest_loses_nothing_and_duplicates_nothing(tmp_path):
    rng = random.Random(7)
    root, inbox = tmp_path / "archive", tmp_path / "inbox"
    Archive.init(root).close()
    env = {**os.environ, "ARCHIVER_ARCHIVE": str(root)}
    killed = 0
    for round_no in range(ROUNDS):
        add_files(inbox, round_no, rng)
        proc = subprocess.Popen([EXE, "ingest", "--no-ocr", str(inbox)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.6))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        check_consistent(root)
    assert killed >= ROUNDS // 3, "the kills should land mid-run in most rounds"
    done = subprocess.run([EXE, "ingest", "--no-ocr", "--json", str(inbox)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    check_consistent(root)
    archive = Archive(root)
    try:
        files = sorted(str(p) for p in inbox.rglob("*") if p.is_file())
        sources = [r[0] for r in archive.catalog.db.execute("SELECT path FROM sources ORDER BY path")]
        assert sources == files                                   # every file, once
        assert archive.catalog.unindexed() == []
        assert archive.fulltext.doc_ids() == set(archive.catalog.indexable_ids())
        attachments = archive.catalog.db.execute("SELECT COUNT(*) FROM attachments").fetchone()[0]
        assert attachments == ROUNDS                              # one per mail, none doubled
        for round_no in range(ROUNDS):
            hits, total = archive.search(f"token{round_no:02d}")
            assert total == 9, f"round {round_no}: {total} documents"   # 4 notes, md, pdf, docx, mail, quote
        assert json.loads(done.stdout)
    finally:
        archive.close()
