"""The watcher: real file-system events in tmp_path, the watcher in a subprocess stopped with SIGTERM."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import Archive
from archiver.cli import main
from archiver.watch_observer import Inboxes
from archiver.watch_queue import Pending, Vanished, ignored, move_no_overwrite
from tests.conftest import write

EXE = Path(sys.executable).with_name("archiver")
COMMAND = [str(EXE)] if EXE.exists() else [sys.executable, "-c", "from archiver.cli import main; main()"]
LOG_KEYS = {"time", "event", "path", "status", "doc_id", "reason"}
SETTLE = 0.5


def settings(inbox: Path, **watch) -> str:
    """Return an archive.toml with quick watcher settings (``watch`` overrides them)."""
    values = {"settle": SETTLE, "rescan_interval": 60.0, "polling_interval": 0.3, **watch}
    lines = [f"inboxes = [{json.dumps(str(inbox))}]", "[ingest]", "workers = 2", "[ocr]", "enabled = false",
             "[watch]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def setup(tmp_path):
    """An archive whose inbox is tmp_path/inbox, with quick watcher settings."""
    root, inbox = tmp_path / "archive", tmp_path / "inbox"
    Archive.init(root).close()
    inbox.mkdir()
    (root / "archive.toml").write_text(settings(inbox))
    return root, inbox


class Watching:
    """``archiver watch --json`` in a subprocess, its JSON lines read as they come."""

    def __init__(self, root: Path, *args: str):
        self.root = root
        self.proc = subprocess.Popen([*COMMAND, "--archive", str(root), "watch", *map(str, args), "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)      # its own process group, as in a terminal
        self.events: list[dict] = []
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(lambda e: e["event"] == "started")

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    def wait_for(self, predicate, timeout: float = 30.0) -> dict:
        """Return the first event (seen before or arriving) that satisfies ``predicate``."""
        for event in self.events:
            if predicate(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if event is None:
                raise AssertionError(f"watcher ended: {self.proc.wait()} {self.proc.stderr.read()}")
            assert LOG_KEYS <= set(event), event
            self.events.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"timed out; events so far: {self.events}")

    def taken(self, path: Path, timeout: float = 30.0) -> dict:
        """Wait for the log line of one file."""
        return self.wait_for(lambda e: e["event"] == "file" and e["path"] == str(path), timeout)

    def files(self, path: Path | None = None) -> list[dict]:
        """Return the file lines so far (of one path)."""
        return [e for e in self.events if e["event"] == "file" and (path is None or e["path"] == str(path))]

    def stop(self, interrupt: bool = False) -> None:
        """SIGTERM (or Ctrl-C to the whole process group); expect a clean exit and collect the remaining lines."""
        if interrupt:
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0, self.proc.stderr.read()
        while (event := self._lines.get(timeout=10)) is not None:
            self.events.append(event)
        assert self.events[-1]["event"] == "stopped"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def watching():
    started: list[Watching] = []

    def start(root: Path, *args) -> Watching:
        started.append(Watching(root, *args))
        return started[-1]
    yield start
    for w in started:
        w.kill()


def run(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, "--archive", str(root), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def catalog_view(root: Path):
    """Return (documents by id, sources by path, versions) read from the catalog."""
    archive = Archive(root)
    try:
        db = archive.catalog.db
        docs = {r["id"]: dict(r) for r in db.execute("SELECT id, sha256, state FROM documents")}
        sources = {r["path"]: dict(r) for r in db.execute("SELECT path, doc_id, status FROM sources")}
        return docs, sources, archive.catalog.versions()
    finally:
        archive.close()


# -- end to end, with real events --------------------------------------------------------------

@pytest.mark.parametrize("mode", [(), ("--polling=0.3",)], ids=["events", "polling"])
def test_a_slow_writer_is_taken_once_when_complete(setup, watching, mode):
    root, inbox = setup
    w = watching(root, *mode)
    path = inbox / "scan-0001.txt"
    digest = hashlib.sha256()
    with open(path, "w") as fh:          # one writer, ten chunks over two seconds
        for n in range(10):
            chunk = f"chunk {n} of the slow scanner output, pump housing WX-100\n" * 50
            fh.write(chunk)
            fh.flush()
            digest.update(chunk.encode())
            time.sleep(0.2)
    line = w.taken(path)
    w.stop()
    assert line["status"] == "indexed"
    assert len(w.files(path)) == 1
    docs, sources, _ = catalog_view(root)
    assert docs[sources[str(path)]["doc_id"]]["sha256"] == digest.hexdigest()


def test_an_atomic_rename_gives_one_document_under_the_final_name(setup, watching):
    root, inbox = setup
    w = watching(root)
    temp = write(inbox, "report.txt.part", "")
    with open(temp, "w") as fh:
        for n in range(5):
            fh.write(f"quarterly review part {n}\n")
            fh.flush()
            time.sleep(0.1)
    os.replace(temp, inbox / "report.txt")
    scratch = write(inbox, "tmp8x2kq", "editor save of memo ECO-1123\n")   # a temp name not ignored
    os.replace(scratch, inbox / "memo.txt")
    w.taken(inbox / "report.txt")
    w.taken(inbox / "memo.txt")
    w.stop()
    assert sorted(e["path"] for e in w.files()) == [str(inbox / "memo.txt"), str(inbox / "report.txt")]
    docs, sources, _ = catalog_view(root)
    assert len(docs) == 2 and sorted(sources) == [str(inbox / "memo.txt"), str(inbox / "report.txt")]


def test_a_burst_of_200_files_gives_200_documents_while_others_search_and_ingest(setup, watching, tmp_path):
    root, inbox = setup
    write(tmp_path / "elsewhere", "other.txt", "taken by a separate ingest process\n")
    w = watching(root)
    paths = [write(inbox / f"batch{n % 4}", f"note-{n:03}.txt", f"burst note {n} about pump {n * 7}\n")
             for n in range(200)]
    w.wait_for(lambda e: e["event"] == "file")
    searcher = subprocess.Popen([*COMMAND, "--archive", str(root), "search", "burst", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    other = run(root, "ingest", tmp_path / "elsewhere", "--json")
    out, err = searcher.communicate(timeout=60)
    assert searcher.returncode == 0, err
    assert isinstance(json.loads(out), list)
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)[0]["status"] == "indexed"
    for path in paths:
        w.taken(path, timeout=60)
    w.stop()
    assert sorted(e["path"] for e in w.files()) == sorted(map(str, paths))
    assert {e["status"] for e in w.files()} == {"indexed"}
    docs, _, _ = catalog_view(root)
    assert len(docs) == 201
    hits = json.loads(run(root, "search", '"burst note 199"', "--json").stdout)
    assert [h["source"] for h in hits] == [str(inbox / "batch3" / "note-199.txt")]


def test_a_file_dropped_while_the_watcher_is_down_is_taken_on_start(setup, watching):
    root, inbox = setup
    first = write(inbox, "first.txt", "taken by the first run\n")
    w = watching(root)
    w.taken(first)
    w.stop()
    later = write(inbox / "sub", "later.txt", "dropped while nobody watched\n")
    w = watching(root)
    assert w.taken(later)["status"] == "indexed"
    w.stop()
    assert w.files(first) == []          # already in the catalog, unchanged: not taken again


def test_a_deleted_inbox_file_keeps_its_original(setup, watching):
    root, inbox = setup
    path = write(inbox, "minutes.txt", "minutes of the design review\n")
    w = watching(root)
    doc_id = w.taken(path)["doc_id"]
    path.unlink()
    gone = w.wait_for(lambda e: e["event"] == "gone")
    w.stop()
    assert (gone["path"], gone["doc_id"]) == (str(path), doc_id)
    shown = json.loads(run(root, "show", doc_id, "--json").stdout)
    assert [(s["path"], s["status"]) for s in shown["sources"]] == [(str(path), "gone")]
    assert "design review" in shown["text_start"]
    archive = Archive(root)
    assert archive.store.verify(shown["sha256"])
    assert [e["action"] for e in archive.catalog.audit_events(doc_id)][-1] == "watch.source_gone"
    archive.close()


def test_a_modified_file_becomes_a_new_version(setup, watching):
    root, inbox = setup
    path = write(inbox, "SPEC-104.txt", "Specification SPEC-104, first draft\n")
    w = watching(root)
    old = w.taken(path)["doc_id"]
    time.sleep(0.05)
    path.write_text("Specification SPEC-104, second draft with changes\n")
    new = w.wait_for(lambda e: e["event"] == "file" and e["path"] == str(path) and e["doc_id"] != old)
    w.stop()
    assert new["status"] == "indexed"
    assert len(w.files(path)) == 2
    _, _, versions = catalog_view(root)
    assert versions == [(new["doc_id"], old, str(path))]


def test_a_failing_file_is_rejected_and_the_watcher_goes_on(setup, watching):
    root, inbox = setup
    w = watching(root)
    empty = write(inbox, "empty.txt", b"")
    junk = write(inbox, "junk.pdf", bytes(range(256)) * 8)
    first = [w.taken(empty), w.taken(junk)]
    good = write(inbox, "good.txt", "a readable note after the bad ones\n")
    assert w.taken(good)["status"] == "indexed"
    w.stop()
    assert [e["status"] for e in first] == ["rejected", "rejected"]
    assert first[0]["reason"] == "empty file (0 bytes)"
    rejects = json.loads(run(root, "rejects", "--json").stdout)
    assert sorted(r["path"] for r in rejects) == [str(empty), str(junk)]


def test_a_second_watcher_exits_with_a_clear_message(setup, watching):
    root, _ = setup
    w = watching(root)
    second = CliRunner().invoke(main, ["--archive", str(root), "watch"])
    assert second.exit_code == 1
    assert second.stderr == f"Error: another watcher is already running for {root} (pid {w.proc.pid})\n"
    w.stop()


def test_once_takes_what_is_there_and_exits(setup):
    root, inbox = setup
    write(inbox, "a.txt", "first of two\n")
    write(inbox / "deep" / "er", "b.txt", "second of two\n")
    done = run(root, "watch", "--once", "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in lines] == ["started", "file", "file", "stopped"]
    assert lines[0]["mode"] == "once" and lines[0]["inboxes"] == [str(inbox)]
    again = [json.loads(line) for line in run(root, "watch", "--once", "--json").stdout.splitlines()]
    assert [e["event"] for e in again] == ["started", "stopped"]


def test_once_prints_one_line_per_file_for_people(setup):
    root, inbox = setup
    path = write(inbox, "a.txt", "for people\n")
    write(inbox, "b.txt", b"")
    result = CliRunner().invoke(main, ["--archive", str(root), "watch", "--once"])
    assert result.exit_code == 0, result.output
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{stamp}  watching  {re.escape(str(inbox))}  \(once\)", lines[0])
    files = sorted(lines[1:3], key=lambda line: "rejected" in line)     # in the order they finish
    assert re.fullmatch(rf"{stamp}  indexed  doc \d  {re.escape(str(path))}", files[0])
    assert re.fullmatch(rf"{stamp}  rejected  doc \d  {re.escape(str(inbox / 'b.txt'))}  \(empty file \(0 bytes\)\)",
                        files[1])
    assert re.fullmatch(rf"{stamp}  stopped", lines[3]) and len(lines) == 4


def test_ignored_names_are_never_taken(setup, watching):
    root, inbox = setup
    w = watching(root)
    for name in ("~$draft.docx", ".notes.txt.swp", "download.pdf.part", ".DS_Store", "Thumbs.db",
                 ".git/config", "big.iso.crdownload", "THUMBS.DB"):
        write(inbox, name, "not a document\n")
    real = write(inbox, "real.txt", "the only document\n")
    w.taken(real)
    time.sleep(SETTLE * 2)
    w.stop()
    assert [e["path"] for e in w.files()] == [str(real)]


def test_move_to_moves_committed_files_and_never_overwrites(setup, watching, tmp_path):
    root, inbox = setup
    archived = tmp_path / "archived"
    write(archived / "sub", "a.txt", "already there, must survive\n")
    early = write(inbox, "early.txt", "taken before moving was asked for\n")
    w = watching(root)
    w.taken(early)
    w.stop()
    w = watching(root, "--move-to", archived)
    path = write(inbox / "sub", "a.txt", "to be moved after commit\n")
    bad = write(inbox, "bad.txt", b"")
    moved = w.wait_for(lambda e: e["event"] == "moved" and e["path"] == str(path))
    w.wait_for(lambda e: e["event"] == "moved" and e["path"] == str(early))     # committed before: moved now
    w.taken(bad)
    w.stop()
    assert moved["to"] == str(archived / "sub" / "a (2).txt")
    assert not path.exists() and not early.exists() and bad.exists()   # a reject stays in the inbox
    assert (archived / "sub" / "a.txt").read_text() == "already there, must survive\n"
    assert (archived / "sub" / "a (2).txt").read_text() == "to be moved after commit\n"
    assert (archived / "early.txt").is_file()
    shown = json.loads(run(root, "show", moved["doc_id"], "--json").stdout)
    assert [(s["path"], s["status"]) for s in shown["sources"]] == [
        (str(path), "gone"), (str(archived / "sub" / "a (2).txt"), "present")]
    assert not [e for e in w.events if e["event"] == "gone"]


def test_moving_across_file_systems_copies_and_never_overwrites(tmp_path, monkeypatch):
    def no_link(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")
    monkeypatch.setattr("archiver.watch_queue.os.link", no_link)
    src = write(tmp_path / "in", "memo.txt", "the new one\n")
    write(tmp_path / "out", "memo.txt", "the old one\n")
    assert move_no_overwrite(src, tmp_path / "out" / "memo.txt") == tmp_path / "out" / "memo (2).txt"
    assert not src.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["memo (2).txt", "memo.txt"]
    assert (tmp_path / "out" / "memo.txt").read_text() == "the old one\n"
    assert (tmp_path / "out" / "memo (2).txt").read_text() == "the new one\n"


def test_a_disappearing_inbox_is_not_every_file_deleted(tmp_path, watching):
    root, inbox = tmp_path / "archive", tmp_path / "inbox"
    Archive.init(root).close()
    (root / "archive.toml").write_text(settings(inbox, rescan_interval=0.5))
    path = write(inbox, "kept.txt", "on the share\n")
    w = watching(root, "--polling=0.3")
    w.taken(path)
    inbox.rename(tmp_path / "unmounted")
    w.wait_for(lambda e: e["event"] == "warning" and "not reachable" in e["reason"])
    time.sleep(SETTLE * 3)
    (tmp_path / "unmounted").rename(inbox)
    later = write(inbox, "later.txt", "after the share came back\n")
    w.taken(later)
    w.stop()
    assert not [e for e in w.events if e["event"] == "gone"]
    _, sources, _ = catalog_view(root)
    assert sources[str(path)]["status"] == "present"


def test_kill_9_mid_batch_leaves_a_consistent_archive_completed_on_restart(setup, watching):
    root, inbox = setup
    paths = [write(inbox, f"n{n:02}.txt", f"note number {n}\n") for n in range(60)]
    w = watching(root)
    db = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
    deadline = time.monotonic() + 30
    while not (committed := db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    w.proc.kill()
    w.proc.wait()
    db.close()
    assert committed < 60                         # killed in the middle of the batch
    _, before, _ = catalog_view(root)
    w = watching(root)
    for path in paths:
        if str(path) not in before:
            w.taken(path)
    w.stop()
    assert sorted(e["path"] for e in w.files()) == sorted(str(p) for p in paths if str(p) not in before)
    docs, sources, _ = catalog_view(root)
    assert sorted(sources) == sorted(map(str, paths))
    assert len(docs) == 60 and {d["state"] for d in docs.values()} == {"indexed"}
    status = json.loads(run(root, "status", "--json").stdout)
    assert status["unindexed"] == 0 and status["index"] == "ok"


def test_ctrl_c_finishes_the_batch_in_hand_and_no_worker_dies(setup, watching):
    root, inbox = setup
    paths = [write(inbox, f"c{n:02}.txt", f"interrupted note {n}\n") for n in range(50)]
    w = watching(root)
    db = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
    deadline = time.monotonic() + 30
    while not db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    db.close()
    w.stop(interrupt=True)                         # SIGINT to the watcher and its worker processes
    assert sorted(e["path"] for e in w.files()) == sorted(map(str, paths))
    assert {e["status"] for e in w.files()} == {"indexed"}


def test_a_missing_inbox_is_one_clear_line(setup, tmp_path):
    root, _ = setup
    result = CliRunner().invoke(main, ["--archive", str(root), "watch", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {tmp_path / 'nowhere'}: no such inbox folder "
                             "(create it, or change inboxes in archive.toml)\n")


# -- the parts, without processes ---------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pending_holds_a_path_once_and_waits_for_it_to_settle(tmp_path):
    clock = Clock()
    pending = Pending(2.0, clock)
    path = write(tmp_path, "a.txt", "x")
    for _ in range(50):                              # a burst of events
        pending.written(str(path))
    assert len(pending) == 1 and pending.ready(10) == []
    clock.now += 1.5
    path.write_text("xy")                             # grew without an event (no events on a share)
    clock.now += 0.5
    assert pending.ready(10) == []                    # the wait is over, but the file changed: wait again
    clock.now += 1.9
    assert pending.ready(10) == []
    clock.now += 0.1
    [(ready, st)] = pending.ready(10)
    assert ready == str(path) and st.st_size == 2 and len(pending) == 0


def test_a_close_write_only_needs_a_short_confirmation(tmp_path):
    clock = Clock()
    pending = Pending(2.0, clock)
    path = write(tmp_path, "a.txt", "done")
    pending.written(str(path), closed=True)
    assert pending.ready(10) == []
    clock.now += 0.25
    assert [p for p, _ in pending.ready(10)] == [str(path)]


def test_pending_drops_vanished_files_and_scans_keep_their_clock(tmp_path):
    clock = Clock()
    pending = Pending(1.0, clock)
    temp = write(tmp_path, "t.tmp", "x")
    pending.written(str(temp))
    temp.unlink()
    keep = write(tmp_path, "k.txt", "x")
    pending.offer(str(keep), os.stat(keep))
    clock.now += 0.6
    pending.offer(str(keep), os.stat(keep))           # a rescan: unchanged, the clock keeps running
    clock.now += 0.5
    assert [p for p, _ in pending.ready(10)] == [str(keep)] and len(pending) == 0


def test_vanished_paths_are_due_after_the_grace_period():
    clock = Clock()
    vanished = Vanished(2.0, clock)
    vanished.add("/in/a")
    clock.now += 1.0
    vanished.add("/in/b")
    clock.now += 1.0
    assert vanished.due() == ["/in/a"] and len(vanished) == 1


def test_ignore_patterns_match_names_and_folders_in_any_case():
    patterns = ["~$*", ".*", "*.part", "Thumbs.db"]
    assert ignored("/in/~$report.docx", "/in", patterns)
    assert ignored("/in/sub/.git/objects/ab", "/in", patterns)
    assert ignored("/in/THUMBS.DB", "/in", patterns)
    assert ignored("/in/x.PART", "/in", patterns)
    assert not ignored("/in/report.docx", "/in", patterns)
    assert not ignored("/in/part/report.docx", "/in", patterns)


def test_inotify_limits_fall_back_to_polling_with_the_fix(tmp_path, monkeypatch):
    def no_watches():
        raise OSError(errno.ENOSPC, "inotify watch limit reached")
    monkeypatch.setattr("archiver.watch_observer.Observer", no_watches)
    warnings = []
    inboxes = Inboxes([str(tmp_path)], warnings.append)
    try:
        assert inboxes.start(None, 7.0) == "polling every 7 s"
    finally:
        inboxes.stop()
    assert warnings == ["inotify watch limit reached; raise it with: sudo sysctl fs.inotify.max_user_watches=524288; "
                        "watching by polling every 7 s instead"]


def test_an_empty_inbox_on_another_file_system_is_an_unmounted_share(tmp_path):
    warnings = []
    inboxes = Inboxes([str(tmp_path)], warnings.append)
    inboxes._devices[str(tmp_path)] = -1          # as if the share's device had been there at start
    assert not inboxes.reachable(str(tmp_path))
    write(tmp_path, "a.txt", "the share is mounted again")
    assert inboxes.reachable(str(tmp_path))
    assert warnings == [f"inbox {tmp_path} is not reachable (unmounted share?); its files wait until it is back",
                        f"inbox {tmp_path} is reachable again"]
