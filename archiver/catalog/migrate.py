"""Copy a catalog from SQLite to PostgreSQL, then prove the copy: the same rows in every table.

Rows keep their ids (and SQLite's row order, as the PostgreSQL ``rowid`` column
of tables without an id), so every reference between tables and every audit
hash stays valid. Both catalogs must be at the same migration.
"""
from __future__ import annotations

import hashlib
from typing import Callable

from archiver.catalog import Catalog
from archiver.errors import ArchiverError

# Parents before children (foreign keys), the migrations table last.
TABLES = ("documents", "pages", "sources", "attachments", "rejects", "audit", "state", "products", "refs",
          "cr_steps", "versions", "filed", "cr_products", "jobs", "links", "migrations")
BATCH = 2_000


def columns(catalog: Catalog, table: str) -> list[str]:
    """Return a table's columns in an SQLite catalog, in order."""
    return [r[1] for r in catalog.db.execute(f"PRAGMA table_info({table})")]


def copy(src: Catalog, dst: Catalog, progress: Callable[[str, int], None] = lambda table, rows: None) -> None:
    """Copy every row of an SQLite catalog into an empty PostgreSQL one, in one transaction."""
    if src.migrations() != dst.migrations():
        raise ArchiverError("the two catalogs are at different migrations; upgrade archiver on every machine first")
    if dst.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]:
        raise ArchiverError(f"{dst.where} already holds a catalog (documents exist); migrate into an empty database")
    with dst.transaction():
        dst.db.execute("DELETE FROM migrations")
        for table in TABLES:
            cols = columns(src, table)
            key = "id" if "id" in cols else "rowid"
            names = cols if key == "id" else cols + ["rowid"]
            select = f"SELECT {', '.join(cols)}{', rowid' if key == 'rowid' else ''} FROM {table} ORDER BY {key}"
            insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            cursor, done = src.db.execute(select), 0
            while rows := cursor.fetchmany(BATCH):
                dst.db.executemany(insert, [tuple(r) for r in rows])
                done += len(rows)
                progress(table, done)
            # Identity and serial columns continue after the copied ids.
            dst.db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'), "
                           f"COALESCE((SELECT MAX({key}) FROM {table}), 0) + 1, false)")


def layout(catalog: Catalog) -> dict[str, list[str]]:
    """Return the columns of every table of an SQLite catalog (the PostgreSQL copy adds only rowid)."""
    return {table: columns(catalog, table) for table in TABLES}


def digests(catalog: Catalog, tables: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Return (row count, SHA-256 of every row in key order) of each table of a catalog."""
    out = {}
    for table, cols in tables.items():
        key = "id" if "id" in cols else "rowid"
        digest, count = hashlib.sha256(), 0
        for row in catalog.db.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {key}"):
            digest.update(repr(tuple(row)).encode())
            count += 1
        out[table] = (count, digest.hexdigest())
    return out
