"""Connect the catalog to its database: SQLite (a file, the default) or PostgreSQL (a team archive).

The catalog's SQL is written once, in SQLite's dialect. For PostgreSQL a thin
connection wrapper translates each statement once (placeholders, ``INSERT OR
IGNORE``, ``json_extract``, types of the migrations) and serialises writers with
an advisory lock, so that a transaction means what ``BEGIN IMMEDIATE`` means in
SQLite: one writer at a time, readers never wait.
"""
from __future__ import annotations

import os
import re
import socket
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

# Any 64-bit keys: every archiver process of one catalog takes the same locks. The first
# serialises catalog transactions; the second is the archive's writer lock (ingest, filing).
WRITER_LOCK_KEY = 0x61726368697665  # "archive"
ARCHIVE_LOCK_KEY = 0x61726368697666


def is_url(target: str | Path) -> bool:
    """Tell whether a catalog target is a PostgreSQL URL (rather than an SQLite file)."""
    return isinstance(target, str) and target.split(":", 1)[0] in ("postgresql", "postgres")


def redact(url: str) -> str:
    """Return a URL without its password, for messages and status."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def connect_sqlite(path: Path) -> sqlite3.Connection:
    """Open an SQLite catalog file in WAL mode, statements committed by explicit transactions."""
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


class Row(tuple):
    """A result row read by position or by column name, like sqlite3.Row."""

    _names: tuple[str, ...] = ()

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """Return the column names."""
        return list(self._names)


def _row_factory(cursor):
    names = tuple(d.name for d in cursor.description or ())
    cls = type("Row", (Row,), {"_names": names})
    return lambda values: cls(values)


class PgCursor:
    """The part of a DB-API cursor the catalog uses, over a psycopg cursor."""

    def __init__(self, cursor):
        self._cursor = cursor
        self.lastrowid = None

    @property
    def rowcount(self) -> int:
        """Return how many rows the statement changed."""
        return self._cursor.rowcount

    def fetchone(self):
        """Return the next row, or None."""
        return self._cursor.fetchone()

    def fetchmany(self, size: int) -> list:
        """Return up to ``size`` more rows."""
        return self._cursor.fetchmany(size)

    def fetchall(self) -> list:
        """Return the remaining rows."""
        return self._cursor.fetchall()

    def __iter__(self):
        return iter(self._cursor)


class PgConnection:
    """A PostgreSQL connection that runs the catalog's SQLite-dialect statements."""

    dialect = "postgresql"

    def __init__(self, url: str):
        import psycopg
        from psycopg.types.numeric import NumericLoader

        class _Number(NumericLoader):
            # SUM and AVG give numeric in PostgreSQL: hand back int or float, as SQLite does.
            def load(self, data):
                value = super().load(data)
                return int(value) if value == value.to_integral_value() else float(value)

        self.url = url
        self._psycopg = psycopg
        # The name shows who holds the writer lock: "archiver pid 123 on host".
        self._conn = psycopg.connect(url, autocommit=True, row_factory=_row_factory,
                                     application_name=f"archiver pid {os.getpid()} on {socket.gethostname()}"[:63])
        self._conn.adapters.register_loader("numeric", _Number)

    def execute(self, sql: str, params: Sequence[Any] | dict = ()) -> PgCursor:
        """Run one statement (SQLite dialect) and return its cursor."""
        text, returning = translate(sql)
        cursor = PgCursor(self._conn.execute(text, params or None, prepare=False))
        if returning:
            row = cursor.fetchone()
            cursor.lastrowid = row[0] if row else None
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of parameters."""
        rows = list(rows)
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(translate(sql)[0], rows)

    def begin(self) -> None:
        """Start a write transaction, waiting for any other writer of this catalog to finish."""
        self._conn.execute("BEGIN")
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK_KEY,))

    def commit(self) -> None:
        """Commit the transaction."""
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        """Roll the transaction back."""
        self._conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


@lru_cache(maxsize=1024)
def translate(sql: str) -> tuple[str, bool]:
    """Return a statement in PostgreSQL's dialect, and whether it returns a new row id."""
    text = sql.replace("%", "%%")
    if re.match(r"\s*CREATE\s+TABLE", text, re.IGNORECASE):
        text = _table(text)
    text = _JSON.sub(lambda m: f"({m.group(1)}::jsonb ->> '{m.group(2)}')", text)
    ignore = _OR_IGNORE.search(text)
    if ignore:
        text = _OR_IGNORE.sub("INSERT INTO", text) + " ON CONFLICT DO NOTHING"
    text = re.sub(r"\bBEGIN IMMEDIATE\b", "BEGIN", text)
    # SQLite takes an empty list, "x IN ()"; PostgreSQL needs an empty set.
    text = re.sub(r"[\w.]+\s+NOT\s+IN\s+\(\)", "TRUE", text)
    text = re.sub(r"[\w.]+\s+IN\s+\(\)", "FALSE", text)
    text = _placeholders(text)
    returning = bool(re.search(r"\bRETURNING\s+id\s*$", text, re.IGNORECASE))
    return text, returning


_JSON = re.compile(r"json_extract\((\w+(?:\.\w+)?),\s*'\$\.(\w+)'\)")
_OR_IGNORE = re.compile(r"\bINSERT OR IGNORE INTO\b", re.IGNORECASE)


def _placeholders(text: str) -> str:
    """Turn ``?`` into ``%s`` outside quoted strings."""
    out, quoted = [], False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        out.append("%s" if ch == "?" and not quoted else ch)
    return "".join(out)


def _table(text: str) -> str:
    """Give a CREATE TABLE PostgreSQL's types: 64-bit integers, identity ids, a rowid for order."""
    has_id = re.search(r"\bINTEGER PRIMARY KEY\b", text)
    text = re.sub(r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", text)
    text = re.sub(r"\bINTEGER\b", "BIGINT", text)
    text = re.sub(r"\bREAL\b", "DOUBLE PRECISION", text)
    if not has_id:
        # SQLite numbers every row; some reads order by that. The column goes last, so that
        # INSERT ... VALUES without a column list still fills the others in order.
        text = text[:text.rindex(")")] + ",\n    rowid BIGSERIAL\n)" + text[text.rindex(")") + 1:]
    return text
