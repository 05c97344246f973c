"""Shared fixtures: a fresh archive, a CLI runner bound to it, and small inputs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import Archive
from archiver.cli import main
from tests import pg


# -- both catalog backends ---------------------------------------------------------
# The tests of these modules run twice: on the embedded SQLite catalog, and on a team
# archive's PostgreSQL catalog when a test server is there (tests/pg.py: ARCHIVER_TEST_PG,
# or ARCHIVER_TEST_PG_START=1 to start one with .ci/postgres, as .ci/test does). Every
# archive a test creates in-process then gets a fresh database of its own.
BOTH_BACKENDS = {"tests.test_ingest", "tests.test_search", "tests.test_crossref", "tests.test_filing",
                 "tests.test_export", "tests.test_verify", "tests.test_cli", "tests.test_ocr",
                 "tests.test_regressions"}
PG_SERVER = pg.server_url()


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__ in BOTH_BACKENDS and PG_SERVER:
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: the test reads the embedded catalog or index files directly")


@pytest.fixture(autouse=True)
def backend(request, monkeypatch) -> str:
    """Return the catalog backend of this test run; on postgresql, new archives get a fresh database."""
    name = getattr(request, "param", "sqlite")
    if name == "sqlite":
        yield name
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("reads the embedded catalog or index files directly")
    created: list[str] = []
    plain_init = Archive.init.__func__

    def init(cls, root, products=None, catalog=None):
        if catalog is None and not (Path(root) / "archive.toml").exists():
            catalog = pg.fresh_database(PG_SERVER)
            created.append(catalog)
        return plain_init(cls, root, products, catalog)
    monkeypatch.setattr(Archive, "init", classmethod(init))
    yield name
    for url in created:
        pg.drop_database(url)


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
