"""Keep every original once, by SHA-256, written atomically and read-only."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from archiver.errors import FileError

CHUNK = 1024 * 1024


def sha256_file(path: Path) -> tuple[str, int]:
    """Return the SHA-256 hex digest and the size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class OriginalStore:
    """A content-addressed folder of originals: ``originals/ab/cd/<sha256>``."""

    def __init__(self, root: Path):
        self.root = root
        self.tmp = root / ".tmp"

    def path_for(self, sha256: str) -> Path:
        """Return where the original with this hash lives (whether or not it exists)."""
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        """Tell whether the original with this hash is stored."""
        return self.path_for(sha256).is_file()

    def put_file(self, source: Path, sha256: str) -> Path:
        """Copy ``source`` into the store unless present; check the copy has ``sha256``."""
        target = self.path_for(sha256)
        if target.is_file():
            return target
        with open(source, "rb") as src:
            return self._write(src, sha256, source)

    def put_bytes(self, data: bytes, sha256: str, label: str) -> Path:
        """Store bytes (e.g. an e-mail attachment) under their hash."""
        target = self.path_for(sha256)
        if target.is_file():
            return target
        import io
        return self._write(io.BytesIO(data), sha256, Path(label))

    def _write(self, src, sha256: str, label: Path) -> Path:
        target = self.path_for(sha256)
        self.tmp.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise FileError(label, "file changed while being read; it will be taken next time")
            os.chmod(tmp_name, 0o444)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, target)
            fsync_dir(target.parent)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return target

    def verify(self, sha256: str) -> bool:
        """Tell whether the stored original still has its hash."""
        path = self.path_for(sha256)
        return path.is_file() and sha256_file(path)[0] == sha256

    def clean_tmp(self) -> None:
        """Remove half-written files a crash left behind."""
        if self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)


def fsync_dir(path: Path) -> None:
    """Flush one folder (or file) to disk, e.g. a folder after a rename inside it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
