"""Write a BagIt bag (RFC 8493): payload with digests, manifests, bag-info, tag manifest; as a folder or a zip."""
from __future__ import annotations

import glob
import hashlib
import shutil
import zipfile
from pathlib import Path

from archiver.errors import ArchiverError, FileError
from archiver.lock import process_alive
from archiver.store import fsync_dir

ALGORITHMS = ("sha256", "sha512")          # payload manifests
TAG_ALGORITHMS = ("sha256",)               # tag manifests
NATIVE_HASHES = ("md5", "sha1", "sha256", "sha512")
CHUNK = 1024 * 1024
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


def encode_path(path: str) -> str:
    """Percent-encode a manifest path as RFC 8493 asks: '%', CR and LF."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(path: str) -> str:
    """Undo :func:`encode_path`."""
    return path.replace("%0D", "\r").replace("%0d", "\r").replace("%0A", "\n").replace("%0a", "\n") \
        .replace("%25", "%")


def manifest_text(digests: dict[str, dict[str, str]], algorithm: str) -> str:
    """Return a manifest: ``<digest>  <path>`` per file, sorted by path (two spaces, as sha256sum -c reads)."""
    return "".join(f"{digests[p][algorithm]}  {encode_path(p)}\n" for p in sorted(digests))


class BagWriter:
    """Write one bag into an empty folder, remembering every payload file's digests."""

    def __init__(self, root: Path):
        self.root = root
        self.payload: dict[str, dict[str, str]] = {}   # "data/..." -> {algorithm: hex}
        self.bytes = 0
        root.mkdir(parents=True)

    def add_bytes(self, rel: str, data: bytes) -> dict[str, str]:
        """Write a payload file (``rel`` below data/) from bytes; return its digests."""
        target = self._target(rel)
        target.write_bytes(data)
        digests = {a: hashlib.new(a, data).hexdigest() for a in NATIVE_HASHES}
        return self._record(rel, digests, len(data))

    def add_copy(self, rel: str, source: Path, sha256: str) -> dict[str, str]:
        """Copy an original into the payload, byte for byte; refuse if it no longer has ``sha256``."""
        target = self._target(rel)
        hashers = {a: hashlib.new(a) for a in NATIVE_HASHES}
        size = 0
        try:
            with open(source, "rb") as src, open(target, "wb") as out:
                while chunk := src.read(CHUNK):
                    for h in hashers.values():
                        h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except FileNotFoundError as exc:
            raise FileError(source, "original missing from the archive; run: archiver verify") from exc
        digests = {a: h.hexdigest() for a, h in hashers.items()}
        if digests["sha256"] != sha256:
            raise FileError(source, "original does not match its SHA-256 any more; run: archiver verify")
        return self._record(rel, digests, size)

    def manifest_digest(self, without: str | None = None) -> str:
        """Return the SHA-256 of the SHA-256 payload manifest as written so far (minus one file's line)."""
        digests = {p: d for p, d in self.payload.items() if p != without}
        return hashlib.sha256(manifest_text(digests, "sha256").encode("utf-8")).hexdigest()

    def finish(self, info: list[tuple[str, str]]) -> str:
        """Write bagit.txt, the manifests, bag-info.txt (Payload-Oxum added) and the tag manifest.

        Returns the SHA-256 of manifest-sha256.txt.
        """
        files = {"bagit.txt": BAGIT_TXT}
        for algorithm in ALGORITHMS:
            files[f"manifest-{algorithm}.txt"] = manifest_text(self.payload, algorithm)
        digest = hashlib.sha256(files["manifest-sha256.txt"].encode("utf-8")).hexdigest()
        info = [*info, ("Payload-Manifest-SHA256", digest), ("Payload-Oxum", f"{self.bytes}.{len(self.payload)}")]
        files["bag-info.txt"] = "".join(f"{k}: {_one_line(v)}\n" for k, v in info)
        tags = {}
        for name, text in files.items():
            data = text.encode("utf-8")
            (self.root / name).write_bytes(data)
            tags[name] = {a: hashlib.new(a, data).hexdigest() for a in TAG_ALGORITHMS}
        for algorithm in TAG_ALGORITHMS:
            (self.root / f"tagmanifest-{algorithm}.txt").write_text(manifest_text(tags, algorithm), encoding="utf-8")
        return digest

    def _target(self, rel: str) -> Path:
        if rel in self.payload or rel.startswith("/") or ".." in rel.split("/"):
            raise ArchiverError(f"internal error: bad or repeated payload path {rel!r}")
        target = self.root / "data" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _record(self, rel: str, digests: dict[str, str], size: int) -> dict[str, str]:
        self.payload[f"data/{rel}"] = digests
        self.bytes += size
        return digests


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def write_zip(folder: Path, target: Path, top: str) -> None:
    """Zip a bag folder under one top folder, deterministically: sorted, fixed times and permissions."""
    files = sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for rel, path in files:
            info = zipfile.ZipInfo(f"{top}/{rel}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3                      # Unix, so the permissions below are read
            info.external_attr = 0o100644 << 16
            info.file_size = path.stat().st_size
            with open(path, "rb") as src, zf.open(info, "w") as out:
                shutil.copyfileobj(src, out, CHUNK)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder of a tree (or one file) to disk before it is renamed into place."""
    for path in [root] if root.is_file() else [*sorted(root.rglob("*")), root]:
        fsync_dir(path)


def clean_partials(out: Path) -> None:
    """Remove the half-written bundles (``<out>.partial-<pid>``) of export processes that died."""
    for path in out.parent.glob(f"{glob.escape(out.name)}.partial-*"):
        pid = path.name[len(out.name) + len(".partial-"):].removesuffix(".d")
        if pid.isdigit() and not process_alive(int(pid)):
            remove(path)



def remove(path: Path) -> None:
    """Remove a half-written bundle, folder or file."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
