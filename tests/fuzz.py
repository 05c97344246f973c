"""Mutation fuzzing of the extractors through the worker pool (run by: bash .ci/fuzz).

Each seed file (a valid PDF, DOCX, e-mail, HTML, CSV, text, PNG, TIFF, JPEG)
is mutated (bytes flipped, chunks cut, repeated or inserted, the file
truncated) and extracted in the same worker pool the archive uses. Every
outcome must be an extraction or a one-line reason; an unexpected exception,
a crash of the worker or a hang is a bug: the input is saved under
tests/regressions/ (which the default test run replays) and the run fails.
"""
from __future__ import annotations

import hashlib
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from archiver.extract import Limits
from archiver.sniff import sniff
from archiver.stages import extract_original
from archiver.workers import WorkerPool

REGRESSIONS = Path(__file__).parent / "regressions"
BAD_PREFIXES = ("unexpected ", "extraction worker ", "timed out")


def seeds(folder: Path) -> list[Path]:
    """Write one valid file of every format into ``folder``."""
    from PIL import Image

    from tests.makers import make_docx, make_eml, make_pdf, render_scan
    make_pdf(folder / "seed.pdf", ["First page of SPEC-104 Rev C", "Second page"], title="Seed", author="A")
    make_docx(folder / "seed.docx", ["Paragraph one"], table=[["a", "b"], ["c", "d"]], header="H", footer="F",
              text_box="box", core={"title": "T"})
    make_eml(folder / "seed.eml", attachments=[("q.txt", b"quote", "text/plain")])
    (folder / "seed.html").write_text("<html><head><title>t</title></head><body><p>x &amp; y</p></body></html>")
    (folder / "seed.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    (folder / "seed.txt").write_bytes("Müller café – résumé\n".encode("cp1252"))
    image = render_scan(["SCAN"], size=(200, 120), dpi=100)
    image.save(folder / "seed.png")
    image.save(folder / "seed.jpg")
    image.save(folder / "seed.tif", save_all=True, append_images=[image])
    Image.new("L", (1, 1)).save(folder / "tiny.png")
    return sorted(p for p in folder.iterdir() if p.is_file())


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Return a damaged copy of ``data``."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not data:
            data = bytearray(b"\x00")
        kind = rng.randrange(5)
        at = rng.randrange(max(1, len(data)))
        if kind == 0:
            for _ in range(rng.randint(1, 16)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:
            del data[at:at + rng.randint(1, 512)]
        elif kind == 2:
            data[at:at] = data[at:at + rng.randint(1, 512)] * rng.randint(2, 50)
        elif kind == 3:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        else:
            del data[at:]
    return bytes(data) or b"\x00"


def run(budget_s: float, seed: int, timeout: float = 20.0) -> list[tuple[Path, str]]:
    """Fuzz for ``budget_s`` seconds; return (saved input, reason) of every bug found."""
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="archiver-fuzz-"))
    found: list[tuple[Path, str]] = []
    try:
        originals = seeds(work)
        deadline = time.monotonic() + budget_s
        with WorkerPool(2, timeout, 1024) as pool:
            round_no = 0
            while time.monotonic() < deadline:
                batch = []
                for source in originals:
                    path = work / f"m{round_no}-{source.name}"
                    path.write_bytes(mutate(source.read_bytes(), rng))
                    sniffed = sniff(path)
                    if sniffed.format not in ("unknown", "empty"):
                        batch.append((path, (str(path), sniffed.mime, Limits())))
                for outcome in pool.map(extract_original, batch):
                    if not outcome.ok and outcome.reason.startswith(BAD_PREFIXES):
                        found.append((save(outcome.key), outcome.reason))
                    outcome.key.unlink(missing_ok=True)
                round_no += 1
        print(f"fuzz: {round_no} rounds of {len(originals)} seeds, {len(found)} bugs", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return found


def save(path: Path) -> Path:
    """Keep a failing input under tests/regressions/, named by its hash."""
    data = path.read_bytes()
    target = REGRESSIONS / f"{hashlib.sha256(data).hexdigest()[:16]}{path.suffix}"
    REGRESSIONS.mkdir(exist_ok=True)
    target.write_bytes(data)
    return target


if __name__ == "__main__":
    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 300
    bugs = run(budget, seed=int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time()))
    for saved, reason in bugs:
        print(f"{saved}: {reason}")
    sys.exit(1 if bugs else 0)
