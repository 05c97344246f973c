"""Verify an evidence bundle (BagIt structure, every hash, the load files, custody) or the archive itself."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from archiver.catalog import GENESIS, audit_hash
from archiver.errors import FileError, NotFound
from archiver.export import STATEMENT, loadfile
from archiver.export.bundle import decode_path
from archiver.store import CHUNK, sha256_file

REQUIRED_TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt")
DAT_COLUMNS = ("BEGBATES", "NATIVEPATH", "TEXTPATH", "FILESIZE", "MD5HASH", "SHA1HASH", "SHA256HASH")


@dataclass(frozen=True)
class Problem:
    """One thing that is wrong, named: a file of the bundle, a document, an original or an audit entry."""

    item: str
    problem: str


@dataclass
class Report:
    """The outcome of a verification: the JSON of `archiver verify --json`."""

    ok: bool = True
    checked: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, item: str, problem: str) -> None:
        """Record a problem."""
        self.problems.append(Problem(item, problem))
        self.ok = False


# -- bundles -------------------------------------------------------------------------------------


def verify_bundle(path: Path) -> Report:
    """Check a bundle, folder or zip: structure, every hash, nothing missing or extra, load files, custody."""
    path = Path(path)
    if path.is_dir():
        return _BagCheck(path).run()
    if not path.is_file():
        raise NotFound(f"{path}: no such bundle")
    if not zipfile.is_zipfile(path):
        raise FileError(path, "neither a bundle folder nor a zip file")
    with tempfile.TemporaryDirectory(prefix="archiver-verify-") as tmp:
        return _BagCheck(_unzip(path, Path(tmp))).run()


def _unzip(path: Path, into: Path) -> Path:
    """Extract a zipped bundle safely and return its bag folder (the one top folder, or the zip's root)."""
    with zipfile.ZipFile(path) as zf:
        members = zf.infolist()
        for info in members:
            parts = PurePosixPath(info.filename).parts
            if info.filename.startswith("/") or "\\" in info.filename or ".." in parts:
                raise FileError(path, f"unsafe name in the zip: {info.filename!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise FileError(path, f"symbolic link in the zip: {info.filename!r}")
        if sum(i.file_size for i in members) > shutil.disk_usage(into).free:
            raise FileError(path, f"too large to unpack into {into}; unzip it elsewhere and verify the folder")
        zf.extractall(into)
    tops = {PurePosixPath(i.filename).parts[0] for i in members if i.filename.strip("/")}
    if not (into / "bagit.txt").exists() and len(tops) == 1:
        return into / tops.pop()
    return into


class _BagCheck:
    """The checks of one bag folder; problems name files relative to the bag's top folder."""

    def __init__(self, root: Path):
        self.root = root
        self.report = Report()
        self.digests: dict[str, dict[str, str]] = {}     # payload file -> computed digests
        self.sizes: dict[str, int] = {}

    def run(self) -> Report:
        for name in REQUIRED_TAG_FILES:
            if not (self.root / name).is_file():
                self.report.add(name, "missing")
        self._bagit_txt()
        manifests = {alg: self._manifest(name) for alg, name in self._manifest_names("manifest-")}
        on_disk = self._payload_on_disk()
        self._completeness(manifests, on_disk)
        self._hash_payload(manifests, on_disk)
        self._oxum(on_disk)
        self._tag_manifests()
        self._loadfiles()
        self._custody()
        self._statement()
        self.report.checked.update(payload_files=len(on_disk), bytes=sum(self.sizes.values()),
                                   manifests=sorted(manifests))
        return self.report

    def _bagit_txt(self) -> None:
        path = self.root / "bagit.txt"
        if path.is_file():
            data = path.read_bytes()
            if data.startswith(b"\xef\xbb\xbf") or not re.search(rb"^BagIt-Version: \d+\.\d+\r?$", data, re.M):
                self.report.add("bagit.txt", "not a BagIt declaration (BagIt-Version missing, or a byte-order mark)")

    def _manifest_names(self, prefix: str) -> list[tuple[str, str]]:
        found = []
        for p in sorted(self.root.glob(f"{prefix}*.txt")):
            alg = p.name[len(prefix):-4]
            if alg not in hashlib.algorithms_guaranteed:
                self.report.add(p.name, f"unknown algorithm {alg!r}")
            else:
                found.append((alg, p.name))
        return found

    def _manifest(self, name: str, payload: bool = True) -> dict[str, str]:
        entries: dict[str, str] = {}
        lines = (self.root / name).read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            digest, _, rest = line.strip("\r").partition(" ")
            path = decode_path(rest.lstrip(" \t").lstrip("*"))
            parts = PurePosixPath(path).parts
            inside = parts[:1] == ("data",) if payload else len(parts) == 1
            if not path or path.startswith("/") or ".." in parts or not inside:
                self.report.add(name, f"line {number} names a path that does not belong there: {path!r}")
            elif path in entries:
                self.report.add(name, f"line {number} lists {path} a second time")
            else:
                entries[path] = digest.lower()
        return entries

    def _payload_on_disk(self) -> set[str]:
        data = self.root / "data"
        if not data.is_dir():
            self.report.add("data/", "missing")
            return set()
        found = set()
        for p in sorted(data.rglob("*")):
            rel = p.relative_to(self.root).as_posix()
            if p.is_symlink():
                self.report.add(rel, "is a symbolic link, not a file")
            elif p.is_file():
                found.add(rel)
        for p in sorted(self.root.iterdir()):
            if p.is_dir() and p.name != "data":
                self.report.add(p.name + "/", "unexpected folder outside data/ (added?)")
        return found

    def _completeness(self, manifests: dict[str, dict[str, str]], on_disk: set[str]) -> None:
        listed = set().union(*manifests.values()) if manifests else set()
        for rel in sorted(listed - on_disk):
            self.report.add(rel, "missing (listed in the manifest, not in the bundle)")
        for rel in sorted(on_disk - listed):
            self.report.add(rel, "not in the manifest (added?)")
        for alg, entries in manifests.items():
            for rel in sorted((listed & on_disk) - set(entries)):
                self.report.add(rel, f"not in manifest-{alg}.txt")

    def _hash_payload(self, manifests: dict[str, dict[str, str]], on_disk: set[str]) -> None:
        for rel in sorted(on_disk):
            algs = set(manifests) | ({"md5", "sha1", "sha256"} if rel.startswith("data/natives/") else set())
            self.digests[rel], self.sizes[rel] = _digests(self.root / rel, algs)
            wrong = [f"manifest-{a}.txt" for a, entries in sorted(manifests.items())
                     if rel in entries and entries[rel] != self.digests[rel][a]]
            if wrong:
                self.report.add(rel, f"content does not match {', '.join(wrong)} (altered)")

    def _oxum(self, on_disk: set[str]) -> None:
        info = self._bag_info()
        oxum = info.get("Payload-Oxum")
        actual = f"{sum(self.sizes.values())}.{len(on_disk)}"
        if oxum is None:
            self.report.add("bag-info.txt", "no Payload-Oxum")
        elif oxum != actual:
            self.report.add("bag-info.txt", f"Payload-Oxum says {oxum} (bytes.files), the payload is {actual}")
        stated = info.get("Payload-Manifest-SHA256")
        manifest = self.root / "manifest-sha256.txt"
        if stated and manifest.is_file() and stated != sha256_file(manifest)[0]:
            self.report.add("bag-info.txt", "Payload-Manifest-SHA256 does not match manifest-sha256.txt")

    def _bag_info(self) -> dict[str, str]:
        path = self.root / "bag-info.txt"
        info: dict[str, str] = {}
        label = None
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []:
            if line[:1] in (" ", "\t") and label:
                info[label] += " " + line.strip()
            elif ":" in line:
                label, _, value = line.partition(":")
                info[label.strip()] = value.strip()
        return info

    def _tag_manifests(self) -> None:
        names = self._manifest_names("tagmanifest-")
        listed: set[str] = set()
        for alg, name in names:
            for rel, digest in self._manifest(name, payload=False).items():
                listed.add(rel)
                path = self.root / rel
                if not path.is_file():
                    self.report.add(rel, f"missing (listed in {name})")
                elif _digests(path, {alg})[0][alg] != digest:
                    self.report.add(rel, f"content does not match {name} (altered)")
        tag_files = sorted(p.name for p in self.root.iterdir() if p.is_file())
        for name in tag_files:
            if names and name not in listed and not name.startswith("tagmanifest-"):
                self.report.add(name, "not in the tag manifest (added?)")
        self.report.checked["tag_files"] = len(tag_files)

    def _loadfiles(self) -> None:
        rows = self._dat_rows()
        if rows is None:
            return
        natives = {rel for rel in self.digests if rel.startswith("data/natives/")}
        seen: set[str] = set()
        for number, row in enumerate(rows, start=2):
            self._dat_row(number, row, seen)
        for rel in sorted(natives - seen):
            self.report.add(rel, "not in loadfile.dat (added?)")
        self.report.checked["loadfile_rows"] = len(rows)

    def _dat_rows(self) -> list[dict[str, str]] | None:
        """Return the DAT rows by canonical field name, after checking the CSV and JSON say the same."""
        path = self.root / "data" / "loadfile.dat"
        if not path.is_file():
            self.report.add("data/loadfile.dat", "missing")
            return None
        try:
            header, rows = loadfile.read_dat(path.read_bytes(), "data/loadfile.dat")
        except FileError as exc:
            self.report.add("data/loadfile.dat", exc.reason)
            return None
        for name, read in (("loadfile.csv", loadfile.read_csv), ("loadfile.json", loadfile.read_json)):
            other = self.root / "data" / name
            try:
                same = other.is_file() and read(other.read_bytes()) == (header, rows)
            except (ValueError, IndexError, AttributeError):
                same = False
            if not same:
                self.report.add(f"data/{name}", "missing, unreadable, or its rows differ from loadfile.dat")
        names = self._field_names()
        missing = [names[c] for c in DAT_COLUMNS if names[c] not in header]
        if missing:
            self.report.add("data/loadfile.dat", f"no column {', '.join(missing)}")
            return None
        return [{c: row[header.index(names[c])] for c in DAT_COLUMNS} for row in rows]

    def _field_names(self) -> dict[str, str]:
        try:
            fields = json.loads((self.root / "data" / "bundle.json").read_text(encoding="utf-8"))["fields"]
            return {c: str(fields.get(c, c)) for c in loadfile.FIELDS}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {c: c for c in loadfile.FIELDS}

    def _dat_row(self, number: int, row: dict[str, str], seen: set[str]) -> None:
        where = f"data/loadfile.dat line {number} ({row['BEGBATES']})"
        native, text = f"data/{row['NATIVEPATH']}", f"data/{row['TEXTPATH']}"
        if native in seen:
            self.report.add(where, f"names {row['NATIVEPATH']} a second time")
        seen.add(native)
        if native not in self.digests:
            self.report.add(where, f"names {row['NATIVEPATH']}, which is not in the bundle")
            return
        if row["TEXTPATH"] and text not in self.digests:
            self.report.add(where, f"names {row['TEXTPATH']}, which is not in the bundle")
        actual = self.digests[native]
        for column, alg in (("MD5HASH", "md5"), ("SHA1HASH", "sha1"), ("SHA256HASH", "sha256")):
            if row[column].lower() != actual[alg]:
                self.report.add(native, f"does not match its {column} in loadfile.dat (altered)")
        if row["FILESIZE"] != str(self.sizes[native]):
            self.report.add(native, f"has {self.sizes[native]} bytes, loadfile.dat says {row['FILESIZE']}")

    def _custody(self) -> None:
        path = self.root / "data" / "custody.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            documents = record["documents"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.report.add("data/custody.json", f"missing or unreadable ({exc.__class__.__name__})")
            return
        count = 0
        for doc in documents:
            for e in doc.get("events", []):
                count += 1
                if _entry_hash(e) != e.get("hash"):
                    self.report.add("data/custody.json",
                                    f"audit entry {e.get('id')} of {doc.get('control_number')}: "
                                    "content does not match its hash (edited)")
        self.report.checked["custody_entries"] = count

    def _statement(self) -> None:
        path, manifest = self.root / "data" / STATEMENT, self.root / "manifest-sha256.txt"
        if not path.is_file() or not manifest.is_file():
            return
        stated = re.search(r"^Payload manifest digest: ([0-9a-f]{64})", path.read_text(encoding="utf-8",
                                                                                       errors="replace"), re.M)
        lines = manifest.read_bytes().splitlines(keepends=True)
        rest = b"".join(line for line in lines if not line.rstrip(b"\r\n").endswith(f" data/{STATEMENT}".encode()))
        if stated is None or stated.group(1) != hashlib.sha256(rest).hexdigest():
            self.report.add(f"data/{STATEMENT}", "its payload manifest digest does not match manifest-sha256.txt")


def _digests(path: Path, algorithms: set[str]) -> tuple[dict[str, str], int]:
    hashers = {a: hashlib.new(a) for a in sorted(algorithms)}
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            size += len(chunk)
            for h in hashers.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}, size


def _entry_hash(entry: dict) -> str | None:
    try:
        return audit_hash(entry["prev_hash"], entry["at"], entry["action"], entry["doc_id"], entry["sha256"],
                          entry["detail"])
    except (KeyError, TypeError):
        return None


# -- the archive ---------------------------------------------------------------------------------


def verify_archive(archive) -> Report:
    """Check every original's SHA-256, the audit chain, and the catalog against the originals.

    Holds the writer lock, so that a file being ingested is never taken for an orphan.
    """
    report = Report()
    with archive.writing(check_settings=False):
        docs = archive.catalog.stored_hashes()
        _check_originals(archive, docs, report)
        _check_orphans(archive, {sha for _, sha, _ in docs}, report)
        _check_chain(archive.catalog, report)
        _check_stored_events(archive.catalog, docs, report)
    report.checked["documents"] = len(docs)
    return report


def _check_originals(archive, docs: list[tuple[int, str, int]], report: Report) -> None:
    total = 0
    for doc_id, sha, size in docs:
        path = archive.store.path_for(sha)
        rel = path.relative_to(archive.root).as_posix()
        if not path.is_file():
            report.add(f"document {doc_id}", f"original missing ({rel})")
            continue
        actual, actual_size = sha256_file(path)
        total += actual_size
        if actual != sha or actual_size != size:
            report.add(f"document {doc_id}", f"original altered: its SHA-256 is now {actual} ({rel})")
    report.checked["bytes"] = total


def _check_orphans(archive, known: set[str], report: Report) -> None:
    count = 0
    root = archive.store.root
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_dir() or path.is_relative_to(archive.store.tmp):
            continue
        count += 1
        if path.name not in known or archive.store.path_for(path.name) != path:
            report.add(path.relative_to(archive.root).as_posix(), "no document in the catalog has this file")
    report.checked["originals"] = count


def _check_chain(catalog, report: Report) -> None:
    prev, count = GENESIS, 0
    for entry_id, at, action, doc_id, sha, detail, prev_hash, digest in catalog.audit_chain():
        count += 1
        if prev_hash != prev:
            report.add(f"audit entry {entry_id}", "does not follow the entry before it (entries deleted, "
                                                  "inserted or rewritten)")
        if audit_hash(prev_hash, at, action, doc_id, sha, detail) != digest:
            report.add(f"audit entry {entry_id}", "content does not match its hash (edited)")
        prev = digest
    report.checked["audit_entries"] = count


def _check_stored_events(catalog, docs: list[tuple[int, str, int]], report: Report) -> None:
    stored = catalog.stored_events()
    for doc_id, sha, _ in docs:
        if sha not in stored.get(doc_id, ()):
            report.add(f"document {doc_id}", "its SHA-256 is not the one its ingest.stored audit entry records")

