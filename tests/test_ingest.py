"""Ingest: originals kept once by hash, duplicates recorded, re-ingest idempotent, nothing lost."""
from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from archiver import Archive
from archiver.cli import main
from archiver.store import sha256_file
from tests.conftest import write


def by_source(results):
    return {os.path.basename(r.source): r for r in results}


def test_a_text_file_is_stored_read_only_and_searchable(archive, inbox):
    path = write(inbox, "notes.txt", "Kick-off meeting for the gearbox redesign.\n")
    [result] = archive.ingest([inbox]).results
    assert result.status == "indexed" and result.format == "text"
    assert result.sha256 == sha256_file(path)[0]
    stored = archive.store.path_for(result.sha256)
    assert stored.read_bytes() == path.read_bytes()
    assert not stored.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    hits, total = archive.search("gearbox")
    assert total == 1 and hits[0].doc_id == result.doc_id and hits[0].source == str(path)


def test_an_exact_duplicate_is_another_path_of_the_same_document(archive, inbox):
    write(inbox, "a/quote.txt", "Quote 4711 from Acme Castings\n")
    write(inbox, "b/quote copy.txt", "Quote 4711 from Acme Castings\n")
    results = by_source(archive.ingest([inbox]).results)
    assert results["quote.txt"].status == "indexed"
    assert results["quote copy.txt"].status == "duplicate"
    assert results["quote copy.txt"].doc_id == results["quote.txt"].doc_id
    view = archive.show(str(results["quote.txt"].doc_id))
    assert sorted(os.path.basename(s.path) for s in view.sources) == ["quote copy.txt", "quote.txt"]
    assert archive.status().totals["documents"] == 1


def test_reingesting_the_same_folder_changes_nothing_and_skips_hashing(archive, inbox, monkeypatch):
    write(inbox, "one.txt", "first\n")
    write(inbox, "two.md", "# Second\n\nbody\n")
    archive.ingest([inbox]).results
    events = archive.status().totals["audit_events"]

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed again")
    monkeypatch.setattr("archiver.stages.sha256_file", no_hashing)
    again = archive.ingest([inbox]).results
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    assert archive.status().totals["documents"] == 2
    assert archive.status().totals["audit_events"] == events


def test_a_changed_file_at_the_same_path_becomes_a_new_document(archive, inbox):
    path = write(inbox, "spec.txt", "Revision B of the specification\n")
    [first] = archive.ingest([inbox]).results
    path.write_text("Revision C of the specification, longer now\n")
    [second] = archive.ingest([inbox]).results
    assert second.status == "indexed" and second.doc_id != first.doc_id
    assert archive.store.has(first.sha256) and archive.store.has(second.sha256)
    assert archive.resolve(str(path)) == second.doc_id
    assert archive.catalog.versions() == [(second.doc_id, first.doc_id, str(path))]
    [old] = archive.catalog.sources(first.doc_id)          # the former version keeps where it was seen
    assert (old.path, old.status) == (str(path), "replaced")
    [new] = archive.catalog.sources(second.doc_id)
    assert (new.path, new.status) == (str(path), "present")
    [link] = [n for n in archive.related(str(second.doc_id)).neighbours if n.relation == "version_of"]
    assert (link.id, link.direction) == (first.doc_id, "out")


def test_bad_inputs_are_kept_with_a_reason_and_the_batch_goes_on(archive, inbox):
    write(inbox, "empty.txt", b"")
    write(inbox, "broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    write(inbox, "garbage.txt", bytes(range(256)) * 8)
    write(inbox, "good.txt", "This one is fine: hydraulic pump\n")
    results = by_source(archive.ingest([inbox]).results)
    assert results["empty.txt"].reason == "empty file (0 bytes)"
    assert results["broken.pdf"].status == "rejected"
    assert results["broken.pdf"].reason.startswith(("corrupt PDF", "PDF"))
    assert results["garbage.txt"].reason == "unsupported format: the content is binary data of unknown format"
    assert results["good.txt"].status == "indexed"
    for name in ("empty.txt", "broken.pdf", "garbage.txt"):
        assert archive.store.has(results[name].sha256), f"{name} original not kept"
    rejected = {os.path.basename(r.path): r.reason for r in archive.rejects()}
    assert set(rejected) == {"empty.txt", "broken.pdf", "garbage.txt"}
    assert archive.search("hydraulic")[1] == 1


def test_an_unreadable_file_is_reported_and_the_batch_goes_on(archive, inbox, monkeypatch):
    secret = write(inbox, "secret.txt", "locked away\n")
    write(inbox, "open.txt", "readable pump notes\n")
    real = sha256_file

    def deny(path):
        if path == secret:
            raise PermissionError(13, "Permission denied")
        return real(path)
    monkeypatch.setattr("archiver.stages.sha256_file", deny)
    results = by_source(archive.ingest([inbox]).results)
    assert results["secret.txt"].status == "rejected"
    assert results["secret.txt"].reason == "cannot read: Permission denied"
    assert results["open.txt"].status == "indexed"
    assert [r.reason for r in archive.rejects()] == ["cannot read: Permission denied"]


def test_a_name_that_lies_about_the_content_is_read_by_content(archive, inbox):
    write(inbox, "minutes.pdf", "Minutes: the valve supplier was changed.\n")
    [result] = archive.ingest([inbox]).results
    assert result.status == "indexed" and result.format == "text"
    assert result.warnings == ("the name says .pdf but the content is plain text",)
    assert archive.search("valve")[1] == 1


def test_encodings_are_detected(archive, inbox):
    write(inbox, "cp1252.txt", "Müller approved the café layout – résumé follows.\n", encoding="cp1252")
    write(inbox, "utf16.txt", "\ufeffLieferant Größe geprüft\n", encoding="utf-16-le")
    results = by_source(archive.ingest([inbox]).results)
    assert {r.status for r in results.values()} == {"indexed"}
    assert "Müller approved the café" in archive.text(str(results["cp1252.txt"].doc_id))
    assert "Größe geprüft" in archive.text(str(results["utf16.txt"].doc_id))


MAIL = """From: Ann Lee <ann@example.com>
To: Bob Roy <bob@example.com>, carol@example.com
Cc: dave@example.com
Subject: =?utf-8?q?R=C3=A9sum=C3=A9_of_the_review?=
Date: Tue, 04 Mar 2024 10:00:00 +0100
Message-ID: <review-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/plain; charset=utf-8

Please find the supplier quote attached.
--XX
Content-Type: text/plain
Content-Disposition: attachment; filename="../../etc/passwd"

Quote for 500 castings, unit price 12.40 EUR.
--XX--
"""


def test_an_email_and_its_attachment_become_linked_documents(archive, inbox, tmp_path):
    write(inbox, "review.eml", MAIL)
    results = archive.ingest([inbox]).results
    message, attachment = results
    assert message.status == attachment.status == "indexed"
    assert attachment.parent == message.doc_id
    assert attachment.source.endswith("review.eml#attachment-1")
    view = archive.show(str(message.doc_id))
    assert view.document.title == "Résumé of the review"
    assert view.document.metadata["to"] == ["Bob Roy <bob@example.com>", "carol@example.com"]
    assert view.document.date == "2024-03-04T09:00:00+00:00"
    assert view.attachments == ((attachment.doc_id, "../../etc/passwd"),)
    assert archive.show(str(attachment.doc_id)).attached_to == ((message.doc_id, "../../etc/passwd"),)
    assert not (tmp_path / "etc").exists()
    assert archive.search("castings")[0][0].doc_id == attachment.doc_id


@pytest.mark.sqlite_only
def test_an_archive_reopens_with_its_documents(archive, inbox):
    write(inbox, "x.txt", "persistent words\n")
    archive.ingest([inbox]).results
    archive.close()
    again = Archive(archive.root)
    assert again.search("persistent")[1] == 1
    from archiver.catalog.schema import MIGRATIONS
    assert again.catalog.migrations() == [name for name, _ in MIGRATIONS]
    assert again.catalog.migrations()[0] == "0001_documents_sources_audit"
    assert again.catalog.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_attachments_interrupted_by_a_crash_are_taken_in_by_the_next_run(archive, inbox, monkeypatch):
    write(inbox, "review.eml", MAIL)
    from archiver.ingest import Ingester
    real = Ingester._start

    def die_at_attachments(self, task):
        if task.message_id is not None:
            raise SystemExit("killed after the message was committed")
        return real(self, task)
    monkeypatch.setattr(Ingester, "_start", die_at_attachments)
    try:
        archive.ingest([inbox])
    except SystemExit:
        pass
    monkeypatch.undo()
    assert archive.catalog.messages_with_pending_parts() != []
    again = archive.ingest([inbox]).results
    statuses = sorted(r.status for r in again)
    assert statuses == ["indexed", "unchanged"]
    [message_id] = [r.doc_id for r in again if r.status == "unchanged"]
    assert [name for _, name in archive.catalog.attachments_of(message_id)] == ["../../etc/passwd"]
    assert archive.catalog.messages_with_pending_parts() == []
    assert archive.search("castings")[1] == 1


def _small_batches(archive: Archive, size: int) -> Archive:
    toml = archive.root / "archive.toml"
    toml.write_text(toml.read_text().replace("batch_size = 1000", f"batch_size = {size}"))
    archive.close()
    return Archive(archive.root)


def test_a_large_ingest_is_indexed_by_a_background_process_and_all_of_it_is_searchable(archive, inbox, monkeypatch):
    from archiver import indexing
    sent = []
    plain_send = indexing.BackgroundIndexer.send
    monkeypatch.setattr(indexing.BackgroundIndexer, "send", lambda self, ids: (sent.append(list(ids)),
                                                                                plain_send(self, ids))[1])
    arc = _small_batches(archive, 20)
    for i in range(130):
        write(inbox, f"memo{i:03d}.txt", f"Memo {i} on the gearbox housing, change request CR-2024-{i:04d}.")
    results = arc.ingest([inbox]).results
    assert len(results) == 130 and {r.status for r in results} == {"indexed"}
    if arc.team:   # a team archive indexes into PostgreSQL in the main process
        assert sent == []
    else:
        assert len(sent) >= 2 and sorted(i for batch in sent for i in batch) == list(range(1, 131))
    assert arc.catalog.unindexed() == []
    assert arc.search("gearbox")[1] == 130
    assert [h.doc_id for h in arc.search("CR-2024-0077")[0]] == [78]
    arc.close()


def test_documents_a_dead_background_indexer_left_are_indexed_before_ingest_returns(archive, inbox, monkeypatch):
    from archiver import indexing
    plain_send = indexing.BackgroundIndexer.send

    def send_then_die(self, ids):
        plain_send(self, ids)
        self._process.kill()   # the indexer dies with the batch in hand
    monkeypatch.setattr(indexing.BackgroundIndexer, "send", send_then_die)
    arc = _small_batches(archive, 10)
    for i in range(45):
        write(inbox, f"note{i:02d}.txt", f"Note {i} about the gasket.")
    arc.ingest([inbox])
    assert arc.catalog.unindexed() == []
    assert arc.search("gasket")[1] == 45
    arc.close()


@pytest.mark.sqlite_only
def test_queue_only_is_refused_on_an_embedded_archive_with_the_reason(archive, inbox):
    write(inbox, "memo.txt", "A memo.")
    result = CliRunner().invoke(main, ["--archive", str(archive.root), "ingest", "--queue-only", str(inbox)])
    assert result.exit_code == 2
    assert "--queue-only is for a team archive" in result.output
    assert archive.status().totals["documents"] == 0


def test_a_file_moved_inside_an_ingested_folder_is_gone_from_its_old_path(archive, inbox):
    write(inbox, "a.txt", "A memo that stays.")
    moved = write(inbox, "b.txt", "A memo that moves.")
    archive.ingest([inbox])
    (inbox / "sub").mkdir()
    moved.rename(inbox / "sub" / "b2.txt")
    rows = archive.ingest([inbox]).results
    assert sorted((r.source.rsplit("/", 1)[-1], r.status) for r in rows) == [("a.txt", "unchanged"),
                                                                            ("b2.txt", "duplicate")]
    doc = archive.resolve(str(inbox / "sub" / "b2.txt"))
    sources = {s.path: s.status for s in archive.catalog.sources(doc)}
    assert sources == {str(inbox / "b.txt"): "gone", str(inbox / "sub" / "b2.txt"): "present"}
    assert {s.status for s in archive.catalog.sources(archive.resolve(str(inbox / "a.txt")))} == {"present"}
    gone = [e for e in archive.catalog.audit_events(doc) if e["action"] == "ingest.source_gone"]
    assert [e["detail"]["path"] for e in gone] == [str(inbox / "b.txt")]
