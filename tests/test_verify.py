"""Verification: a bundle (folder or zip) and the archive itself; every tamper is named and fails."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import zipfile
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner

from archiver import Archive
from archiver.cli import main
from archiver.export import Request
from archiver.verify import verify_bundle
from tests.test_export import CR, sample, sample_root  # noqa: F401  (shared fixtures)

NATIVE = "data/natives/ARC-00000003_Acme_Quotation_24-0917.pdf"


@pytest.fixture(scope="module")
def made(sample_root, tmp_path_factory) -> Path:  # noqa: F811
    """A folder bundle of CR-2024-0142 made once from a copy of the sample archive."""
    folder = tmp_path_factory.mktemp("made")
    archive = Archive(shutil.copytree(sample_root, folder / "archive"))
    try:
        archive.export(Request(cr=CR), folder / "bundle")
    finally:
        archive.close()
    return folder / "bundle"


@pytest.fixture
def bag(made, tmp_path) -> Path:
    """A copy of the bundle that a test may tamper with."""
    return shutil.copytree(made, tmp_path / "bundle")


def problems(report) -> list[tuple[str, str]]:
    return [(p.item, p.problem) for p in report.problems]


def flip(path: Path, offset: int = 100) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


# -- bundles ---------------------------------------------------------------------------------


def test_an_untouched_bundle_verifies(bag):
    report = verify_bundle(bag)
    assert report.ok and report.problems == []
    assert report.checked["payload_files"] == 2 * report.checked["loadfile_rows"] + 10
    done = cli("verify", str(bag))
    assert done.exit_code == 0 and done.output.startswith("OK: checked")


def test_one_flipped_byte_in_a_native_is_named(bag):
    flip(bag / NATIVE)
    found = problems(verify_bundle(bag))
    assert (NATIVE, "content does not match manifest-sha256.txt, manifest-sha512.txt (altered)") in found
    assert (NATIVE, "does not match its SHA256HASH in loadfile.dat (altered)") in found
    assert {item for item, _ in found} == {NATIVE}
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag)).validate()


def test_a_deleted_file_is_named(bag):
    (bag / "data" / "text" / "ARC-00000002.txt").unlink()
    found = problems(verify_bundle(bag))
    assert found[0] == ("data/text/ARC-00000002.txt", "missing (listed in the manifest, not in the bundle)")
    assert ("data/loadfile.dat line 3 (ARC-00000002)", "names text/ARC-00000002.txt, which is not in the bundle") \
        in found
    assert {item for item, _ in found[1:]} == {"bag-info.txt", "data/loadfile.dat line 3 (ARC-00000002)"}


@pytest.mark.parametrize("name", ["data/natives/ARC-00000099_extra.pdf", "data/notes.txt", "README.txt"])
def test_an_added_file_is_named(bag, name):
    (bag / name).write_bytes(b"%PDF-1.4 slipped in")
    found = problems(verify_bundle(bag))
    assert found[0] == (name, "not in the tag manifest (added?)" if "/" not in name else "not in the manifest (added?)")
    assert {item for item, _ in found} <= {name, "bag-info.txt"}     # Payload-Oxum counts payload files


def test_an_edited_custody_entry_is_named_even_when_the_bag_is_rebuilt(bag):
    path = bag / "data" / "custody.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    entry = record["documents"][0]["events"][0]
    entry["detail"] = entry["detail"].replace("/inbox/", "/elsewhere/")
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert ("data/custody.json", "content does not match manifest-sha256.txt, manifest-sha512.txt (altered)") \
        in problems(verify_bundle(bag))
    bagit.Bag(str(bag)).save(manifests=True)          # a forger recomputes every manifest
    bagit.Bag(str(bag)).validate()
    found = problems(verify_bundle(bag))
    assert ("data/custody.json",
            f"audit entry {entry['id']} of ARC-00000001: content does not match its hash (edited)") in found
    assert ("data/hash-verification.txt", "its payload manifest digest does not match manifest-sha256.txt") in found


def test_a_load_file_that_disagrees_with_the_natives_is_named(bag):
    path = bag / "data" / "loadfile.dat"
    path.write_bytes(path.read_bytes().replace("þ26881þ".encode(), "þ26882þ".encode()))
    bagit.Bag(str(bag)).save(manifests=True)
    assert (NATIVE, "has 26881 bytes, loadfile.dat says 26882") in problems(verify_bundle(bag))


def test_a_tampered_zip_is_named(made, tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        for p in sorted(made.rglob("*")):
            if p.is_file():
                zf.write(p, f"good/{p.relative_to(made).as_posix()}")
    assert verify_bundle(good).ok
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data.replace(b"Review memo", b"Review mem0") if info.filename.endswith(".txt") else data)
    found = {item for item, _ in problems(verify_bundle(bad))}
    assert "data/text/ARC-00000004.txt" in found
    done = cli("verify", str(bad), "--json")
    assert done.exit_code == 1 and json.loads(done.stdout)["ok"] is False


# -- the archive ---------------------------------------------------------------------------------


def test_an_untouched_archive_verifies(sample):  # noqa: F811
    report = sample.verify()
    assert report.ok, report.problems
    assert report.checked["audit_entries"] > report.checked["documents"] == report.checked["originals"] > 20
    done = cli("--archive", str(sample.root), "verify", "--json")
    assert done.exit_code == 0 and json.loads(done.stdout)["ok"] is True


def test_an_edited_audit_entry_is_named(sample):  # noqa: F811
    db = sqlite3.connect(sample.root / "catalog.sqlite")
    with db:
        db.execute("UPDATE audit SET at = '2020-01-01T00:00:00+00:00' WHERE id = 7")
    db.close()
    assert problems(sample.verify()) == [("audit entry 7", "content does not match its hash (edited)")]
    done = cli("--archive", str(sample.root), "verify")
    assert done.exit_code == 1 and "audit entry 7: content does not match its hash (edited)\n" in done.output


def test_a_deleted_audit_entry_is_named(sample):  # noqa: F811
    db = sqlite3.connect(sample.root / "catalog.sqlite")
    with db:
        db.execute("DELETE FROM audit WHERE id = 5")
    db.close()
    assert problems(sample.verify()) == [
        ("audit entry 6", "does not follow the entry before it (entries deleted, inserted or rewritten)")]


def test_altered_missing_and_stray_originals_are_named(sample):  # noqa: F811
    docs = sample.catalog.stored_hashes()
    (first, sha1, _), (second, sha2, _) = docs[0], docs[1]
    flip(sample.store.path_for(sha1), 10)
    sample.store.path_for(sha2).unlink()
    stray = sample.store.path_for("ab" * 32)
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"not ingested")
    found = problems(sample.verify())
    assert [item for item, _ in found] == [f"document {first}", f"document {second}",
                                          stray.relative_to(sample.root).as_posix()]
    assert found[0][1].startswith("original altered") and found[1][1].startswith("original missing")
