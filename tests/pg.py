"""Throwaway PostgreSQL databases for the tests: find or start the server, create and drop databases."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = "archiver_tmpl"
EXTENSIONS = ("unaccent", "pg_trgm")


def server_url() -> str | None:
    """Return the test server's URL: $ARCHIVER_TEST_PG, one started by .ci/postgres, or None."""
    if url := os.environ.get("ARCHIVER_TEST_PG"):
        return url
    if os.environ.get("ARCHIVER_TEST_PG_START") == "1":
        return _started_server()
    return None


@functools.cache
def _started_server() -> str | None:
    """Start (or find running) the test server with .ci/postgres and return its URL; None (and why) if it cannot."""
    command = ["bash", str(REPO / ".ci" / "postgres"), "start", str(_server_dir())]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        # The embedded backend's tests still run; say loudly why the team tests do not.
        sys.stderr.write(f"\nWARNING: no PostgreSQL test server, team-archive tests skipped: .ci/postgres start "
                         f"failed (exit {done.returncode}): {done.stderr.strip()}\n")
        return None
    return done.stdout.strip()


def _server_dir() -> Path:
    """Return where the server keeps its data: in memory where possible (one database per test is cheap there)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        st = os.statvfs(shm)
        if st.f_bavail * st.f_frsize >= 1 << 30:   # a container's 64 MB /dev/shm is too small for WAL
            return shm / f"archiver-pgtest-{os.getuid()}"
    return REPO / ".pgtest"


def fresh_database(url: str) -> str:
    """Create an empty database (unaccent, pg_trgm installed) on url's server and return its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            _run(conn, "CREATE DATABASE {} TEMPLATE {}", name, TEMPLATE)
        except errors.InvalidCatalogName:  # no template yet
            _create_template(conn, url)
            _run(conn, "CREATE DATABASE {} TEMPLATE {}", name, TEMPLATE)
    return _with_dbname(url, name)


def _create_template(conn: psycopg.Connection, url: str) -> None:
    """Build the template database under a scratch name, then rename it: nobody sees it half-built."""
    scratch = f"{TEMPLATE}_{uuid.uuid4().hex[:12]}"
    _run(conn, "CREATE DATABASE {}", scratch)
    with psycopg.connect(_with_dbname(url, scratch), autocommit=True) as tmpl:
        for extension in EXTENSIONS:
            _run(tmpl, "CREATE EXTENSION IF NOT EXISTS {}", extension)
    try:
        _run(conn, "ALTER DATABASE {} RENAME TO {}", scratch, TEMPLATE)
    except errors.DuplicateDatabase:  # another test process got there first
        _run(conn, "DROP DATABASE {}", scratch)


def drop_database(url: str) -> None:
    """Drop the database that url names, disconnecting whoever still uses it."""
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(_with_dbname(url, "postgres"), autocommit=True) as conn:
        _run(conn, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def _run(conn: psycopg.Connection, statement: str, *names: str) -> None:
    """Execute a statement whose {} placeholders are (quoted) database or extension names."""
    conn.execute(sql.SQL(statement).format(*map(sql.Identifier, names)))


def _with_dbname(url: str, dbname: str) -> str:
    """Return url (a postgresql:// URL or a key=value string) pointing at another database."""
    if "://" in url:
        return urlsplit(url)._replace(path="/" + dbname).geturl()
    return make_conninfo(url, dbname=dbname)
