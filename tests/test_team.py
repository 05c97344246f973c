"""Team archive: PostgreSQL catalog and search, the OCR job queue and its workers, migrate-catalog, concurrency."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archiver import Archive
from archiver.ocr import engine_version
from tests import pg
from tests.conftest import Cli, write
from tests.makers import make_docx, make_pdf, render_scan

SERVER = pg.server_url()
pytestmark = pytest.mark.skipif(SERVER is None, reason="no PostgreSQL test server (set ARCHIVER_TEST_PG or "
                                                       "ARCHIVER_TEST_PG_START=1)")
needs_tesseract = pytest.mark.skipif(engine_version() is None, reason="Tesseract is not installed")


@pytest.fixture
def db_url():
    url = pg.fresh_database(SERVER)
    yield url
    pg.drop_database(url)


def run(root: Path, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Run the archiver CLI in a new process (as another machine would)."""
    return subprocess.run([sys.executable, "-m", "archiver", "--archive", str(root), *args],
                          capture_output=True, text=True, timeout=timeout, **kw)


def papers(inbox: Path) -> None:
    write(inbox, "minutes.txt", "Minutes: the change control board approved CR-2024-0142 for the WX-100 housing.")
    write(inbox, "lookalike.txt", "Unrelated request CR-2024-01420 about paint colour.")
    make_pdf(inbox / "spec.pdf", ["SPEC-104 Rev C housing specification", "Page two: torque limit 12 Nm"])
    make_docx(inbox / "quote.docx", ["Supplier quote for the gearbox housing, 1,200 pieces."])


def scans(inbox: Path, count: int, pages: int = 1) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        images = [render_scan([f"Signed approval number {i} page {p}", "The board approved the gasket"],
                              size=(1240, 1754), dpi=150) for p in range(pages)]
        images[0].save(inbox / f"scan{i}.tif", save_all=True, append_images=images[1:], dpi=(150, 150))


def test_init_with_a_catalog_url_keeps_catalog_and_search_in_postgresql(tmp_path, db_url):
    cli = Cli(tmp_path / "arc")
    result = cli("init", str(tmp_path / "arc"), "--catalog", db_url)
    assert result.exit_code == 0 and "team archive" in result.output
    papers(tmp_path / "inbox")
    assert cli("ingest", str(tmp_path / "inbox")).exit_code == 0
    assert not (tmp_path / "arc" / "catalog.sqlite").exists() and not (tmp_path / "arc" / "index").exists()
    status = cli.json("status")
    assert status["catalog"] == db_url and status["documents"] == 4 and status["index"] == "ok"
    hits = cli.json("search", "CR-2024-0142")
    assert [h["source"].rsplit("/", 1)[-1] for h in hits] == ["minutes.txt"]
    assert len(cli.json("search", '"torque limit"')) == 1
    related = cli.json("related", "CR-2024-0142")["neighbours"]
    assert sorted(n["title"] for n in related if n["kind"] == "document") == ["minutes.txt"]
    # Another machine (another process) sees the same archive through the catalog.
    other = run(tmp_path / "arc", "search", "gearbox", "--json")
    assert other.returncode == 0, other.stderr
    assert len(json.loads(other.stdout)) == 1
    assert cli.json("verify")["ok"] is True


def test_a_bad_catalog_url_is_one_clear_line(tmp_path):
    cli = Cli(tmp_path / "arc")
    result = cli("init", str(tmp_path / "arc"), "--catalog", "postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1
    assert result.output.startswith("Error: postgresql://nobody@127.0.0.1:1/none: the catalog database cannot be "
                                    "used (")
    assert len(result.output.strip().splitlines()) == 1


def test_migrate_catalog_moves_every_row_and_search_gives_the_same_answers(tmp_path, db_url):
    root = tmp_path / "arc"
    plain = Archive.init(root)
    papers(tmp_path / "inbox")
    plain.ingest([tmp_path / "inbox"])
    queries = ["CR-2024-0142", "CR-2024-*", "housing", '"torque limit"', "format:docx", "gearbox OR paint"]
    before = {q: sorted(h.doc_id for h in plain.search(q)[0]) for q in queries}
    audit_before = len(plain.catalog.audit_events())
    plain.close()

    cli = Cli(root)
    moved = cli.json("migrate-catalog", "--to", db_url)
    assert moved["indexed"] == 4 and all(t["same"] for t in moved["tables"])
    assert {t["table"]: t["rows"] for t in moved["tables"]}["documents"] == 4
    assert (root / "catalog.sqlite.migrated").exists() and not (root / "catalog.sqlite").exists()

    team = Archive(root)
    assert team.team and team.config["catalog.url"] == db_url
    assert {q: sorted(h.doc_id for h in team.search(q)[0]) for q in queries} == before
    events = team.catalog.audit_events()
    assert len(events) == audit_before + 1 and events[-1]["action"] == "catalog.migrated"
    report = team.verify()
    assert report.ok, report
    # New documents continue the ids and the chain.
    write(tmp_path / "more", "late.txt", "A late memo on the WX-100 housing.")
    [result] = team.ingest([tmp_path / "more"]).results
    assert result.doc_id == 5 and team.verify().ok
    team.close()
    again = cli("migrate-catalog", "--to", db_url)
    assert again.exit_code == 1 and "already in PostgreSQL" in again.output


def test_migrate_catalog_refuses_a_database_that_holds_a_catalog(tmp_path, db_url):
    first = Archive.init(tmp_path / "team", catalog=db_url)
    write(tmp_path / "a", "a.txt", "something")
    first.ingest([tmp_path / "a"])
    first.close()
    root = tmp_path / "plain"
    Archive.init(root).close()
    result = Cli(root)("migrate-catalog", "--to", db_url)
    assert result.exit_code == 1 and "already holds a catalog" in result.output
    assert (root / "catalog.sqlite").exists()


@needs_tesseract
def test_scans_become_jobs_that_a_worker_reads(tmp_path, db_url):
    root = tmp_path / "arc"
    Archive.init(root, catalog=db_url).close()
    scans(tmp_path / "inbox", 2, pages=2)
    cli = Cli(root)
    result = cli("ingest", "--no-ocr", str(tmp_path / "inbox"))
    assert result.exit_code == 0
    status = cli.json("status")
    assert status["by_state"] == {"waiting_ocr": 2} and status["jobs"] is not None
    done = run(root, "worker", "--until-empty", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["event"], summary["pages"], summary["documents"]) == ("stopped", 4, 2)
    status = cli.json("status")
    assert status["by_state"] == {"indexed": 2} and status["jobs"]["done"] == 6 and status["jobs"]["queued"] == 0
    assert [status["jobs_by_kind"][k]["done"] for k in ("extract", "ocr")] == [2, 4]
    assert len(cli.json("search", "gasket")) == 2


@needs_tesseract
def test_ingest_of_a_team_archive_works_the_queue_itself_when_ocr_is_on(tmp_path, db_url):
    root = tmp_path / "arc"
    Archive.init(root, catalog=db_url).close()
    scans(tmp_path / "inbox", 2)
    rows = Cli(root).json("ingest", str(tmp_path / "inbox"))
    assert [r["status"] for r in rows] == ["indexed", "indexed"]
    status = Cli(root).json("status")
    assert status["jobs_by_kind"]["ocr"] == {"queued": 0, "running": 0, "stalled": 0, "done": 2, "failed": 0}
    assert status["jobs_by_kind"]["extract"]["done"] == 2
    assert len(Cli(root).json("search", "gasket")) == 2


@needs_tesseract
def test_two_workers_share_a_backlog_and_read_each_page_once(tmp_path, db_url):
    root = tmp_path / "arc"
    Archive.init(root, catalog=db_url).close()
    scans(tmp_path / "inbox", 6)
    assert Cli(root)("ingest", "--no-ocr", str(tmp_path / "inbox")).exit_code == 0
    workers = [subprocess.Popen([sys.executable, "-m", "archiver", "--archive", str(root), "worker", "--until-empty",
                                 "--processes", "1", "--json"], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=240)[0] for w in workers]
    summaries = [json.loads(o.strip().splitlines()[-1]) for o in outputs]
    assert sum(s["pages"] for s in summaries) == 6 and all(s["pages"] >= 1 for s in summaries)
    arc = Archive(root)
    pages = [e for e in arc.catalog.audit_events() if e["action"] == "ocr.page"]
    assert sorted(e["doc_id"] for e in pages) == list(range(1, 7))   # each page read exactly once
    assert arc.catalog.job_counts("ocr")["done"] == 6
    arc.close()


@needs_tesseract
def test_a_worker_killed_mid_job_loses_no_job(tmp_path, db_url):
    root = tmp_path / "arc"
    Archive.init(root, catalog=db_url).close()
    toml = root / "archive.toml"
    toml.write_text(toml.read_text().replace("timeout = 300", "timeout = 4"))   # ocr.timeout: lease 9 s
    scans(tmp_path / "inbox", 3)
    assert Cli(root)("ingest", "--no-ocr", str(tmp_path / "inbox")).exit_code == 0
    victim = subprocess.Popen([sys.executable, "-m", "archiver", "--archive", str(root), "worker", "--processes", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    arc = Archive(root)
    deadline = time.monotonic() + 60
    while arc.catalog.job_counts()["running"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert arc.catalog.job_counts()["running"] == 1
    os.killpg(victim.pid, signal.SIGKILL)   # the worker and its OCR process, mid-job
    victim.wait()
    survivor = run(root, "worker", "--until-empty", "--json", timeout=180)
    assert survivor.returncode == 0, survivor.stderr
    counts = arc.catalog.job_counts("ocr")
    assert counts == {"queued": 0, "running": 0, "stalled": 0, "done": 3, "failed": 0}
    assert arc.status().by_state == {"indexed": 3}
    assert arc.search("gasket")[1] == 3
    arc.close()


def mail_with_attachments(inbox: Path) -> None:
    from tests.makers import make_eml
    inbox.mkdir(parents=True, exist_ok=True)
    spec = inbox / "drawing.pdf"
    make_pdf(spec, ["DWG-3310 Rev A housing drawing for the WX-100"])
    make_eml(inbox / "mail.eml", subject="Quote for CR-2024-0142", body="Please find the quote attached.",
             attachments=[("quote.txt", b"Supplier quote: 1,200 housings for CR-2024-0142.", "text/plain"),
                          ("spec-copy.pdf", spec.read_bytes(), "application/pdf")])


def test_queued_files_are_read_by_workers_as_ingest_reads_them_in_an_embedded_archive(tmp_path, db_url):
    # The same inbox (e-mail with attachments, one a copy of a file, a broken PDF, a
    # look-alike identifier) through `ingest --queue-only` and two workers must give what
    # an embedded archive's ingest gives: statuses, documents, references, search.
    inbox = tmp_path / "inbox"
    papers(inbox)
    mail_with_attachments(inbox)
    (inbox / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<\n")
    embedded = Archive.init(tmp_path / "plain")
    expected = embedded.ingest([inbox]).results
    root = tmp_path / "team"
    Archive.init(root, catalog=db_url).close()
    cli = Cli(root)
    queued = cli.json("ingest", "--queue-only", str(inbox))
    assert [r["status"] for r in queued] == ["queued"] * 7
    assert cli.json("search", "housing") == []                        # nothing read yet
    assert not list((root / "filed").rglob("*.*"))                     # nor filed
    status = cli.json("status")
    assert status["by_state"] == {"queued": 7} and status["jobs_by_kind"]["extract"]["queued"] == 7
    assert "reading files: 7 queued" in cli("status").output
    workers = [subprocess.Popen([sys.executable, "-m", "archiver", "--archive", str(root), "worker", "--until-empty",
                                 "--processes", "1", "--json"], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    lines = [json.loads(line) for w in workers for line in w.communicate(timeout=240)[0].splitlines()]
    assert all(w.returncode == 0 for w in workers)
    stops = [e for e in lines if e["event"] == "stopped"]
    # 7 files and the new attachment (the other is a copy of drawing.pdf); broken.pdf rejected.
    assert sum(e["files"] for e in stops) == 8 and sum(e["rejected"] for e in stops) == 1
    assert {e["event"] for e in lines} == {"file", "stopped"}
    team = Archive(root)

    def summary(arc):
        docs = arc.catalog.documents(range(1, 50))
        return (sorted((d.sha256, d.state, d.reason, d.title, d.pages, d.text_length, d.date) for d in docs.values()),
                sorted((arc.catalog.document(d).sha256, r.kind, r.value, r.role)
                       for d in docs for r in arc.catalog.refs_of(d)),
                {q: sorted(arc.catalog.document(h.doc_id).sha256 for h in arc.search(q)[0])
                 for q in ("housing", "CR-2024-0142", "quote", '"torque limit"', "DWG-3310")})

    def attached(arc):
        mail = arc.catalog.doc_id_by_sha(embedded.catalog.document(message.doc_id).sha256)
        return sorted((n.title, n.relation) for n in arc.related(str(mail)).neighbours)

    [message] = [r for r in expected if r.source.endswith("mail.eml")]
    assert summary(team) == summary(embedded)
    # Filed as the embedded ingest files them: by what the workers read.
    filed = lambda arc: sorted(str(p.relative_to(arc.root / "filed")) for p in (arc.root / "filed").rglob("*")  # noqa: E731
                               if p.is_file())
    assert filed(team) == filed(embedded) and len(filed(team)) >= 7
    assert attached(team) == attached(embedded) and ("quote.txt", "attachment_of") in attached(team)
    assert sorted(r.reason for r in team.rejects()) == sorted(r.reason for r in embedded.rejects())
    assert team.status().by_state == {"indexed": 7, "rejected": 1}
    assert team.verify().ok
    team.close()
    embedded.close()


def test_an_ingest_of_a_team_archive_lists_the_attachments_its_workers_took_in(tmp_path, db_url):
    inbox = tmp_path / "inbox"
    mail_with_attachments(inbox)
    root = tmp_path / "team"
    Archive.init(root, catalog=db_url).close()
    rows = Cli(root).json("ingest", str(inbox))
    plain = Cli(tmp_path / "plain")
    plain("init", str(tmp_path / "plain"))
    expected = plain.json("ingest", str(inbox))
    key = lambda rows: sorted((r["source"].rsplit("/", 1)[-1], r["status"], r["format"], r["parent"] is None)  # noqa: E731
                              for r in rows)
    assert key(rows) == key(expected)
    assert {r["status"] for r in rows} == {"indexed", "duplicate"}


def test_a_file_whose_worker_died_is_read_by_another_and_one_that_kills_three_is_rejected(tmp_path, db_url):
    root = tmp_path / "team"
    Archive.init(root, catalog=db_url).close()
    write(tmp_path / "inbox", "memo.txt", "A memo on the gearbox housing.")
    write(tmp_path / "inbox", "poison.txt", "A file whose reading kills its worker.")
    rows = {r["source"].rsplit("/", 1)[-1]: r["doc_id"] for r in Cli(root).json("ingest", "--queue-only",
                                                                               str(tmp_path / "inbox"))}
    arc = Archive(root)
    # A worker on another machine claims both jobs and dies: its leases run out.
    claimed = arc.catalog.claim_jobs("dead-host:1", lease=0.2, limit=2)
    assert sorted(j[2] for j in claimed) == sorted(rows.values())
    # The poison file's job is taken (and its worker lost) twice more.
    poison = next(j[0] for j in claimed if j[2] == rows["poison.txt"])
    for attempt in range(2):
        time.sleep(0.3)
        with arc.catalog.transaction():
            arc.catalog.db.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = ? "
                                   "WHERE id = ?", ("2000-01-01T00:00:00.000+00:00", poison))
    time.sleep(0.3)
    done = run(root, "worker", "--until-empty", "--json")
    assert done.returncode == 0, done.stderr
    assert arc.catalog.document(rows["memo.txt"]).state == "indexed"
    poisoned = arc.catalog.document(rows["poison.txt"])
    assert poisoned.state == "rejected" and "stopped 3 times" in poisoned.reason
    assert [r.reason for r in arc.rejects()] == [poisoned.reason]
    assert arc.store.path_for(poisoned.sha256).read_bytes() == b"A file whose reading kills its worker."
    assert arc.search("gearbox")[1] == 1
    arc.close()


def test_eight_processes_ingesting_overlapping_folders_lose_and_duplicate_nothing(tmp_path, db_url):
    root = tmp_path / "arc"
    Archive.init(root, catalog=db_url).close()
    shared = tmp_path / "shared"
    for i in range(12):
        write(shared, f"memo{i}.txt", f"Memo {i} on the housing and CR-2024-{i:04d}.")
    folders = []
    for p in range(8):
        own = tmp_path / f"own{p}"
        write(own, f"note{p}.txt", f"Note of process {p} about the gearbox.")
        write(own, "same-everywhere.txt", "One text that every process also holds.")
        folders.append([str(shared), str(own)])
    procs = [subprocess.Popen([sys.executable, "-m", "archiver", "--archive", str(root), "ingest", *f, "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in folders]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    arc = Archive(root)
    assert arc.catalog.totals()["documents"] == 12 + 8 + 1
    assert arc.catalog.totals()["paths"] == 12 + 8 * 2
    assert arc.search("housing")[1] == 12 and arc.search("gearbox")[1] == 8
    assert arc.verify().ok
    arc.close()


def test_a_database_failure_in_the_middle_of_a_command_is_one_clear_line(tmp_path, db_url, monkeypatch):
    import psycopg
    root = tmp_path / "arc"
    Archive.init(root, catalog=db_url).close()

    def gone(self):
        raise psycopg.OperationalError("server closed the connection unexpectedly\n\tThis probably means ...")
    monkeypatch.setattr("archiver.catalog.Catalog.totals", gone)
    result = Cli(root)("status")
    assert result.exit_code == 1
    assert result.output == ("Error: the catalog database failed (server closed the connection unexpectedly); "
                             "what was committed is kept, run the command again to finish\n")
