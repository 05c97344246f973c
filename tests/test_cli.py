"""The command line: exact messages, exit codes, JSON shapes, lock, reindex."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import Archive
from archiver.cli import main
from tests.conftest import write

INGEST_KEYS = {"source", "sha256", "doc_id", "status", "reason", "format", "warnings", "parent"}
SEARCH_KEYS = {"doc_id", "sha256", "title", "source", "format", "date", "score", "snippet"}
SHOW_KEYS = {"doc_id", "sha256", "title", "author", "subject", "keywords", "created", "modified", "date",
             "format", "mime", "size", "pages", "filename", "sources", "attachments", "attached_to",
             "text_length", "state", "reason", "ingested_at", "ocr", "metadata", "text_start",
             "doc_number", "revision", "products", "change_requests", "cites", "references"}


@pytest.mark.sqlite_only
def test_init_creates_the_archive_layout(tmp_path):
    result = CliRunner().invoke(main, ["init", str(tmp_path / "arc")])
    assert result.exit_code == 0
    assert result.output == f"Created archive at {tmp_path / 'arc'}\n"
    for name in ("archive.toml", "catalog.sqlite", "originals", "index"):
        assert (tmp_path / "arc" / name).exists(), name
    again = CliRunner().invoke(main, ["--archive", str(tmp_path / "arc"), "init"])
    assert again.output == f"Archive already exists at {tmp_path / 'arc'}\n"


@pytest.mark.sqlite_only
def test_archive_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVER_ARCHIVE", str(tmp_path / "env-arc"))
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    assert (tmp_path / "env-arc" / "catalog.sqlite").is_file()


def test_a_missing_archive_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["--archive", str(tmp_path / "nope"), "status"])
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'nope'}: no archive here; run: archiver --archive {tmp_path / 'nope'} init\n"


def test_ingest_summary_and_json(cli, inbox):
    write(inbox, "a.txt", "alpha pump\n")
    write(inbox, "b.txt", "alpha pump\n")
    write(inbox, "c.txt", b"")
    result = cli("ingest", inbox)
    assert result.exit_code == 0
    assert result.stdout == ("3 files: 1 indexed, 0 waiting for OCR, 1 duplicate, 0 unchanged, 1 rejected\n"
                             "See why with: archiver rejects\n")
    assert result.stderr == f"rejected: {inbox / 'c.txt'}: empty file (0 bytes)\n"
    rows = cli.json("ingest", inbox)
    assert [set(r) for r in rows] == [INGEST_KEYS] * 3
    assert [r["status"] for r in rows] == ["unchanged"] * 3
    assert cli("ingest", "--fail-on-reject", inbox).exit_code == 0   # unchanged now: nothing rejected
    write(inbox, "d.txt", b"")
    assert cli("ingest", "--fail-on-reject", inbox).exit_code == 3
    [again] = [r for r in cli.json("rejects") if r["path"].endswith("d.txt")]
    assert again["reason"] == "empty file (0 bytes)"


def test_search_show_status_rejects_json_shapes(cli, inbox):
    write(inbox, "memo.txt", "Memo: CR-2024-0007 approved by Dana.\n")
    write(inbox, "bad.txt", bytes(range(256)) * 4)
    cli("ingest", inbox)
    hits = cli.json("search", "CR-2024-0007")
    assert len(hits) == 1 and set(hits[0]) == SEARCH_KEYS
    assert "**CR-2024-0007**" in hits[0]["snippet"]
    doc = cli.json("show", hits[0]["doc_id"])
    assert set(doc) == SHOW_KEYS
    assert doc["sources"][0]["path"] == str(inbox / "memo.txt")
    assert doc["state"] == "indexed" and doc["text_length"] == len("Memo: CR-2024-0007 approved by Dana.\n")
    assert cli.json("show", doc["sha256"][:10])["doc_id"] == doc["doc_id"]
    assert cli.json("show", str(inbox / "memo.txt"))["doc_id"] == doc["doc_id"]
    status = cli.json("status")
    assert status["documents"] == 2 and status["by_state"] == {"indexed": 1, "rejected": 1}
    assert status["index"] == "ok" and status["unindexed"] == 0
    [reject] = cli.json("rejects")
    assert set(reject) == {"id", "path", "sha256", "doc_id", "reason", "at"}
    assert reject["path"] == str(inbox / "bad.txt")


def test_human_search_output_is_a_table(cli, inbox):
    write(inbox, "memo.txt", "The hydraulic pump was approved.\n")
    cli("ingest", inbox)
    out = cli("search", "pump").output.splitlines()
    assert out[0].split() == ["id", "score", "format", "date", "title"]
    assert out[1].split()[2:4] == ["text", out[1].split()[3]] and "memo.txt" in out[1]
    assert out[2].strip() == "The hydraulic pump was approved"
    assert out[-1] == "1 of 1 matching document"
    assert cli("search", "nothinglikethis").output == "No documents match.\n"


def test_errors_are_one_line(cli):
    assert cli("show", "999").output == "Error: 999: no such document (give an id, a SHA-256 or a path it was seen at)\n"
    result = cli("search", "date:[garbage TO x]")
    assert result.exit_code == 1 and result.output.startswith("Error: cannot understand the query")
    bad_date = cli("search", "x", "--after", "last tuesday")
    assert bad_date.exit_code == 2 and "'last tuesday' is not a date like 2024-03-31" in bad_date.output


@pytest.mark.sqlite_only
def test_reindex_rebuilds_a_deleted_index_with_the_same_answers(cli, archive, inbox):
    write(inbox, "a.txt", "torque specification for WX-100\n")
    write(inbox, "b.txt", "torque wrench calibration\n")
    cli("ingest", inbox)
    before = cli.json("search", "torque")
    shutil.rmtree(archive.root / "index")
    broken = cli("search", "torque")
    assert broken.exit_code == 1
    assert broken.output == "Error: there is no search index; run: archiver reindex\n"
    assert cli("reindex").output == "Rebuilt the search index: 2 documents\n"
    assert cli.json("search", "torque") == before


@pytest.mark.sqlite_only
def test_an_index_of_another_schema_version_asks_for_reindex(cli, archive, inbox):
    write(inbox, "a.txt", "valve\n")
    cli("ingest", inbox)
    (archive.root / "index" / "archiver-index.json").write_text('{"schema_version": 0}')
    result = cli("search", "valve")
    assert result.output == ("Error: the search index was built by schema version 0; this archiver uses 1; "
                             "run: archiver reindex\n")
    assert (archive.root / "index").is_dir()          # never deleted behind the user's back
    assert cli.json("status")["index"].startswith("outdated: ")
    cli("reindex")
    assert len(cli.json("search", "valve")) == 1


def test_a_second_writer_times_out_with_a_clear_message(cli, archive, inbox):
    toml = archive.root / "archive.toml"
    toml.write_text(toml.read_text().replace("timeout = 300", "timeout = 1"))
    write(inbox, "a.txt", "waiting\n")
    holder = Archive(archive.root)       # another writer (on a team archive: another connection)
    with holder.writing():
        result = cli("ingest", inbox)
        readers = cli("status")                       # readers never wait for the writer
    holder.close()
    assert readers.exit_code == 0
    assert result.exit_code == 1
    if archive.team:
        assert result.stderr.splitlines()[-1] == (
            f"Error: another archiver process (archiver pid {os.getpid()} on {socket.gethostname()}) is writing "
            "to this team archive; gave up after 1 s (raise lock.timeout in archive.toml to wait longer)")
    else:
        assert result.stderr.splitlines()[-1] == (
            f"Error: another archiver process (pid {os.getpid()}) is writing to {archive.root}; "
            "gave up after 1 s (raise lock.timeout in archive.toml to wait longer)")


def test_a_second_writer_waits_for_the_first(cli, archive, inbox):
    write(inbox, "a.txt", "patience\n")
    held = threading.Event()

    holder = Archive(archive.root)

    def hold():
        with holder.writing():
            held.set()
            time.sleep(1.0)
    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    result = cli("ingest", inbox)
    thread.join()
    holder.close()
    assert result.exit_code == 0
    assert "waiting for another archiver process" in result.stderr
    assert len(cli.json("search", "patience")) == 1


def test_the_installed_console_script_runs(tmp_path):
    exe = Path(sys.executable).with_name("archiver")
    inbox = tmp_path / "in"
    write(inbox, "note.txt", "console script check\n")
    env = {**os.environ, "ARCHIVER_ARCHIVE": str(tmp_path / "arc")}
    run = lambda *a: subprocess.run([str(exe), *a], env=env, capture_output=True, text=True, timeout=120)  # noqa: E731
    assert run("init").returncode == 0
    assert run("ingest", str(inbox)).returncode == 0
    out = run("search", "console", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["title"] == "note.txt"
    assert run("bogus").returncode == 2


def test_readme_documents_every_command_and_setting():
    from archiver.config import SETTINGS
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name in main.commands:
        assert f"archiver {name}" in readme, f"command {name} missing from README"
    for setting in SETTINGS:
        assert f"`{setting.name}`" in readme, f"setting {setting.name} missing from README"
        assert setting.help in readme, f"help of {setting.name} differs in README"


# -- hostile names, titles and arguments -------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_taken_in_under_a_readable_name(cli, inbox):
    write(inbox, "before.txt", "A memo before the odd one.")
    with open(os.fsencode(inbox) + b"/odd\xff name.txt", "w") as f:
        f.write("The odd one names CR-2024-0777.")
    write(inbox, "zafter.txt", "A memo after the odd one.")
    rows = cli.json("ingest", str(inbox))
    assert [r["status"] for r in rows] == ["indexed"] * 3           # the rest of the batch goes on
    odd = next(r for r in rows if "odd" in r["source"])
    assert odd["source"].endswith("odd\\xff name.txt") and "not valid UTF-8" in odd["warnings"][0]
    [hit] = cli.json("search", "CR-2024-0777")
    assert hit["source"] == odd["source"]
    assert [r["status"] for r in cli.json("ingest", str(inbox))] == ["unchanged"] * 3


def test_escape_sequences_in_a_title_never_reach_the_terminal_and_the_title_is_searchable(cli, inbox):
    from tests.makers import make_eml
    make_eml(inbox / "escapes.eml", subject="\x1b[31mREDWORD\x1b[0m \x1b]0;PWNED\x07 about CR-2024-0778",
             attachments=[("evil\x1b[2J.txt", b"An attachment about CR-2024-0778.", "text/plain")])
    write(inbox, "tab\tand\x1besc.txt", "A file with a hostile name about CR-2024-0778.")
    assert cli("ingest", str(inbox)).exit_code == 0
    [mail] = [h for h in cli.json("search", "REDWORD")]
    assert mail["title"] == "REDWORD  about CR-2024-0778"
    for args in (("show", str(mail["doc_id"])), ("search", "CR-2024-0778"), ("related", "CR-2024-0778"),
                 ("timeline", "CR-2024-0778"), ("rejects",)):
        out = cli(*args).output
        assert "\x1b" not in out and "\x07" not in out, args
    assert "evil\\x1b[2J.txt" in cli("show", str(mail["doc_id"])).output


def test_a_control_character_in_a_title_does_not_stop_the_evidence_export(cli, inbox, tmp_path):
    import xml.etree.ElementTree as ET
    from tests.makers import make_pdf
    make_pdf(inbox / "report.pdf", ["Quarterly report on CR-2024-0779."], title="Quarterly\x0creport")
    write(inbox, "vt\x0bname CR-2024-0779.txt", "A note on CR-2024-0779.")
    assert cli("ingest", str(inbox)).exit_code == 0
    result = cli("export", "CR-2024-0779", "--out", str(tmp_path / "bundle"))
    assert result.exit_code == 0, result.output
    assert cli("verify", str(tmp_path / "bundle")).exit_code == 0
    for fmt in ("graphml", "gexf"):
        out = tmp_path / f"g.{fmt}"
        assert cli("graph", "export", "--format", fmt, "--out", str(out)).exit_code == 0
        ET.parse(out)   # well-formed XML


@pytest.mark.parametrize("ref", ["9223372036854775808", "999999999999999999999999", "²"])
def test_a_document_number_past_64_bits_is_no_such_document(cli, ref):
    for args in (("show", ref), ("related", ref), ("path", ref, "1")):
        result = CliRunner().invoke(main, ["--archive", str(cli.root), *args])
        assert result.exit_code == 1 and result.output.startswith(f"Error: {ref}: no such document"), args


def test_a_system_error_is_one_line_not_a_traceback(cli, inbox):
    write(inbox, "a.txt", "A memo on CR-2024-0780.")
    cli("ingest", str(inbox))
    result = CliRunner().invoke(main, ["--archive", str(cli.root), "export", "CR-2024-0780", "--out", "/proc/x"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: /proc/x") and len(result.output.strip().splitlines()) == 1


def test_the_archive_folder_itself_is_never_taken_in(cli, inbox):
    write(inbox, "a.txt", "A memo.")
    cli("ingest", str(inbox))
    for own in (cli.root, cli.root / "originals", cli.root / "archive.toml"):
        result = CliRunner().invoke(main, ["--archive", str(cli.root), "ingest", str(own)])
        assert result.exit_code == 0 and "skipped, it is the archive's own" in result.output
    assert cli.json("status")["documents"] == 1
    # An inbox kept inside the archive's folder is read as any folder is.
    write(cli.root / "new-scans", "b.txt", "A memo kept inside the archive folder.")
    assert [r["status"] for r in cli.json("ingest", str(cli.root / "new-scans"))] == ["indexed"]
    assert [r["status"] for r in cli.json("ingest", str(cli.root / "new-scans" / "b.txt"))] == ["unchanged"]


def test_a_broken_symbolic_link_is_rejected_as_such(cli, inbox):
    write(inbox, "a.txt", "A memo.")
    (inbox / "dangling.txt").symlink_to(inbox / "nowhere.txt")
    rows = {Path(r["source"]).name: r for r in cli.json("ingest", str(inbox))}
    assert rows["dangling.txt"]["status"] == "rejected"
    assert rows["dangling.txt"]["reason"] == f"broken symbolic link: {inbox / 'nowhere.txt'} does not exist"


def test_show_text_prints_the_whole_text_with_a_break_after_each_page(cli, inbox):
    from archiver import output
    from tests.makers import make_pdf
    make_pdf(inbox / "two.pdf", ["First page on CR-2024-0781.", "Second page."])
    cli("ingest", str(inbox))
    text = cli("show", "1", "--text").output
    assert text.startswith("First page on CR-2024-0781.") and "\f\nSecond page." in text
    # On a terminal a document's own control sequences are shown as escapes; lines, tabs, pages stay.
    assert output.printable_text("a\tb\x1b]0;title\x07\fnext\nline") == "a\tb\\x1b]0;title\\x07\fnext\nline"
