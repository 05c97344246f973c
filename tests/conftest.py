"""Shared fixtures: a fresh archive, a CLI runner bound to it, and small inputs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import Archive
from archiver.cli import main


@pytest.fixture
def archive(tmp_path) -> Archive:
    arc = Archive.init(tmp_path / "archive")
    yield arc
    arc.close()


@pytest.fixture
def inbox(tmp_path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


class Cli:
    """Run archiver commands against one archive through click's CliRunner."""

    def __init__(self, root: Path):
        self.root = root
        self.runner = CliRunner()

    def __call__(self, *args: str):
        return self.runner.invoke(main, ["--archive", str(self.root), *map(str, args)],
                                  catch_exceptions=False)

    def json(self, *args: str):
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli(archive) -> Cli:
    return Cli(archive.root)


def write(folder: Path, name: str, text: str | bytes, encoding: str = "utf-8") -> Path:
    """Write a file (text or bytes) into ``folder`` and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding=encoding)
    return path
