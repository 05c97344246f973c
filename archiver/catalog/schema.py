"""List the catalog's schema changes as ordered, named migrations."""
from __future__ import annotations

from typing import Callable

# A migration is SQL statements, or a function of the catalog when it needs Python too.
MIGRATIONS: tuple[tuple[str, str | Callable], ...] = (
    ("0001_documents_sources_audit", """
CREATE TABLE documents (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    format      TEXT NOT NULL,
    mime        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('indexed', 'waiting_ocr', 'rejected')),
    reason      TEXT,
    title       TEXT,
    author      TEXT,
    subject     TEXT,
    keywords    TEXT,
    created     TEXT,
    modified    TEXT,
    date        TEXT,
    pages       INTEGER,
    text_length INTEGER NOT NULL DEFAULT 0,
    filename    TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    ingested_at TEXT NOT NULL,
    indexed_gen INTEGER
);
CREATE INDEX documents_unindexed ON documents(indexed_gen) WHERE indexed_gen IS NULL;

CREATE TABLE pages (
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    number      INTEGER NOT NULL,
    text        TEXT NOT NULL,
    source      TEXT NOT NULL,
    confidence  REAL,
    engine      TEXT,
    languages   TEXT,
    PRIMARY KEY (doc_id, number)
);

CREATE TABLE sources (
    id          INTEGER PRIMARY KEY,
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    path        TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'present'
);
CREATE INDEX sources_doc ON sources(doc_id);

CREATE TABLE attachments (
    message_id  INTEGER NOT NULL REFERENCES documents(id),
    position    INTEGER NOT NULL,
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    name        TEXT NOT NULL,
    PRIMARY KEY (message_id, position)
);
CREATE INDEX attachments_doc ON attachments(doc_id);

CREATE TABLE rejects (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL,
    sha256      TEXT,
    doc_id      INTEGER REFERENCES documents(id),
    reason      TEXT NOT NULL,
    at          TEXT NOT NULL
);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    doc_id      INTEGER,
    sha256      TEXT,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_doc ON audit(doc_id);

CREATE TABLE state (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);
"""),
)

MIGRATIONS += (
    ("0002_products_references_lifecycle", """
CREATE TABLE products (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    aliases     TEXT NOT NULL DEFAULT '[]',
    updated_at  TEXT NOT NULL
);

CREATE TABLE refs (
    id          INTEGER PRIMARY KEY,
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    role        TEXT NOT NULL,
    revision    TEXT,
    evidence    TEXT NOT NULL,
    location    TEXT NOT NULL,
    position    INTEGER NOT NULL,
    context     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX refs_value ON refs(kind, value);
CREATE INDEX refs_doc ON refs(doc_id);

CREATE TABLE cr_steps (
    cr          TEXT NOT NULL,
    step        TEXT NOT NULL,
    date        TEXT,
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    evidence    TEXT NOT NULL
);
CREATE INDEX cr_steps_cr ON cr_steps(cr);

ALTER TABLE documents ADD COLUMN doc_number TEXT;
ALTER TABLE documents ADD COLUMN revision TEXT;
ALTER TABLE documents ADD COLUMN linked INTEGER NOT NULL DEFAULT 0;
CREATE INDEX documents_number ON documents(doc_number);
"""),
)

MIGRATIONS += (
    ("0003_versions_filed", """
CREATE TABLE versions (
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    previous_id INTEGER NOT NULL REFERENCES documents(id),
    path        TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (doc_id, previous_id, path)
);
CREATE INDEX versions_previous ON versions(previous_id);

CREATE TABLE filed (
    path        TEXT PRIMARY KEY,
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    rule        TEXT NOT NULL,
    mode        TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX filed_doc ON filed(doc_id);
"""),
)

MIGRATIONS += (
    ("0004_message_parts_pending", """
ALTER TABLE documents ADD COLUMN parts_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX documents_parts_pending ON documents(parts_pending) WHERE parts_pending > 0;
"""),
)

MIGRATIONS += (
    ("0005_cr_products", """
CREATE TABLE cr_products (
    cr          TEXT NOT NULL,
    product     TEXT NOT NULL,
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    evidence    TEXT NOT NULL,
    PRIMARY KEY (cr, product)
);
CREATE INDEX cr_products_product ON cr_products(product);
CREATE INDEX documents_message_id ON documents(json_extract(metadata, '$.message_id'));
UPDATE documents SET linked = 0;
"""),
)


MIGRATIONS += (
    ("0006_sources_keep_every_version", """
CREATE TABLE sources_new (
    id          INTEGER PRIMARY KEY,
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'present',
    UNIQUE (path, doc_id)
);
INSERT INTO sources_new SELECT id, doc_id, path, size, mtime_ns, first_seen, last_seen, status FROM sources;
DROP TABLE sources;
ALTER TABLE sources_new RENAME TO sources;
CREATE INDEX sources_doc ON sources(doc_id);
CREATE INDEX sources_path ON sources(path, status);
"""),
)


MIGRATIONS += (
    ("0007_refs_by_target", """
CREATE INDEX refs_target ON refs(kind, value, doc_id, role, id);
"""),
)


MIGRATIONS += (
    ("0008_jobs", """
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    page        INTEGER NOT NULL,
    state       TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    worker      TEXT,
    lease_until TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    queued_at   TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (kind, doc_id, page)
);
CREATE INDEX jobs_open ON jobs(state, id) WHERE state IN ('queued', 'running');
"""),
)


def _links_table(catalog) -> None:
    """Create the links table the neighbourhood query walks, and fill it from what the catalog holds."""
    node = "(CASE kind WHEN 'product' THEN 'product:' WHEN 'change_request' THEN 'cr:' ELSE 'docnum:' END) || value"
    for sql in (
        """CREATE TABLE links (
               node    TEXT NOT NULL,
               other   TEXT NOT NULL,
               step    INTEGER NOT NULL,
               origin  TEXT NOT NULL)""",
        "CREATE INDEX links_node ON links(node, other, step)",
        "CREATE INDEX links_origin ON links(origin)",
        f"""INSERT INTO links (node, other, step, origin)
            SELECT DISTINCT 'doc:' || doc_id, {node}, 1, 'refs:' || doc_id FROM refs""",
        f"""INSERT INTO links (node, other, step, origin)
            SELECT DISTINCT {node}, 'doc:' || doc_id, 1, 'refs:' || doc_id FROM refs""",
        """INSERT INTO links (node, other, step, origin)
           SELECT 'doc:' || id, 'rev:' || doc_number, 0, 'refs:' || id FROM documents
           WHERE doc_number IS NOT NULL AND revision IS NOT NULL""",
        """INSERT INTO links (node, other, step, origin)
           SELECT 'rev:' || doc_number, 'doc:' || id, 1, 'refs:' || id FROM documents
           WHERE doc_number IS NOT NULL AND revision IS NOT NULL""",
        """INSERT INTO links (node, other, step, origin)
           SELECT DISTINCT 'cr:' || cr, 'product:' || product, 1, 'crp:' || cr FROM cr_products""",
        """INSERT INTO links (node, other, step, origin)
           SELECT DISTINCT 'product:' || product, 'cr:' || cr, 1, 'crp:' || cr FROM cr_products""",
        """INSERT INTO links (node, other, step, origin)
           SELECT 'doc:' || doc_id, 'doc:' || message_id, 1, 'att:' || message_id || ':' || position FROM attachments""",
        """INSERT INTO links (node, other, step, origin)
           SELECT 'doc:' || message_id, 'doc:' || doc_id, 1, 'att:' || message_id || ':' || position FROM attachments""",
        """INSERT INTO links (node, other, step, origin)
           SELECT 'doc:' || doc_id, 'doc:' || previous_id, 1, 'ver:' || doc_id || ':' || previous_id FROM versions""",
        """INSERT INTO links (node, other, step, origin)
           SELECT 'doc:' || previous_id, 'doc:' || doc_id, 1, 'ver:' || doc_id || ':' || previous_id FROM versions""",
    ):
        catalog.db.execute(sql)
    from archiver.catalog.links import mail_links
    rows = catalog.db.execute(
        "SELECT id, json_extract(metadata, '$.message_id'), json_extract(metadata, '$.in_reply_to') FROM documents "
        "WHERE json_extract(metadata, '$.message_id') IS NOT NULL "
        "OR json_extract(metadata, '$.in_reply_to') IS NOT NULL ORDER BY id").fetchall()
    for doc_id, message_id, in_reply_to in rows:
        catalog.replace_links(f"mail:{doc_id}", mail_links(doc_id, message_id, in_reply_to))


MIGRATIONS += (
    ("0009_links", _links_table),
)


def _queued_state(catalog) -> None:
    """Allow the document state ``queued``: stored, its reading a job for a team archive's workers."""
    old = "CHECK (state IN ('indexed', 'waiting_ocr', 'rejected'))"
    new = "CHECK (state IN ('indexed', 'waiting_ocr', 'rejected', 'queued'))"
    if catalog.dialect == "postgresql":
        name = catalog.db.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'documents'::regclass AND contype = 'c' "
            "AND pg_get_constraintdef(oid) LIKE '%waiting_ocr%'").fetchone()[0]
        catalog.db.execute(f"ALTER TABLE documents DROP CONSTRAINT {name}")
        catalog.db.execute(f"ALTER TABLE documents ADD CONSTRAINT {name} {new}")
        return
    # SQLite cannot alter a constraint. Widening a CHECK changes only the schema's text, which
    # SQLite documents as safe done this way (https://www.sqlite.org/lang_altertable.html#otheralter):
    # in the migration's transaction, with the schema version raised so connections read it again.
    version = catalog.db.execute("PRAGMA schema_version").fetchone()[0]
    catalog.db.execute("PRAGMA writable_schema=ON")
    catalog.db.execute("UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'documents'",
                       (old, new))
    catalog.db.execute(f"PRAGMA schema_version={version + 1}")
    catalog.db.execute("PRAGMA writable_schema=OFF")
    if "'queued'" not in catalog.db.execute("SELECT sql FROM sqlite_master WHERE name = 'documents'").fetchone()[0]:
        raise RuntimeError("migration 0010: the documents table's state constraint is not the expected one")


MIGRATIONS += (
    ("0010_queued_documents", _queued_state),
)
