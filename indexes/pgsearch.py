"""Keep the full-text search index in PostgreSQL, finding what the Whoosh index finds for the same query.

Whoosh still defines the search (indexes/fulltext.py): its analyzers give the
tokens stored here, its parser reads the query into an engine-neutral tree,
and this module turns that tree into one SQL query. PostgreSQL's own
stemmer is never used, so both engines compare the same tokens.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterable, Iterator

import psycopg
from psycopg import errors

from indexes import fulltext
from indexes.fulltext import (FulltextError, Hit, IndexMissing, IndexRecord, IndexVersionMismatch,
                              QuerySyntaxError)

# Our tables' version, then the Whoosh schema's: a change of either means "reindex".
SCHEMA_VERSION = f"1/{fulltext.SCHEMA_VERSION}"
CHUNK_POSITIONS = 10_000  # PostgreSQL keeps positions up to 16,383 only
CHUNK_OVERLAP = 64        # so that a phrase of up to 65 words lies whole in some chunk
CHUNK_BYTES = 500_000     # a tsvector must stay under 1 MB
MAX_REPEATS = 256         # PostgreSQL keeps 256 positions of a word per tsvector
MAX_TOKEN_BYTES = 2046    # and no longer word
TEXT_FIELDS = ("title", "filename", "author")  # tsvector columns of search_doc; content is chunked
ARRAY_FIELDS = ("ident", "product", "cr")
VALUE_FIELDS = ("format", "date", "created", "modified", "size", "doc_id")

_TABLES = """
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS search_stamp (schema_version text NOT NULL);
CREATE TABLE IF NOT EXISTS search_doc (
    doc_id bigint PRIMARY KEY,
    title tsvector NOT NULL, filename tsvector NOT NULL, author tsvector NOT NULL,
    ident text[] NOT NULL, ident_text text NOT NULL,
    format text NOT NULL, date timestamp, created timestamp, modified timestamp,
    size bigint NOT NULL, product text[] NOT NULL, cr text[] NOT NULL);
CREATE TABLE IF NOT EXISTS search_chunk (
    doc_id bigint NOT NULL REFERENCES search_doc ON DELETE CASCADE,
    n int NOT NULL, words tsvector NOT NULL, PRIMARY KEY (doc_id, n));
CREATE TABLE IF NOT EXISTS search_word (word text COLLATE "C" PRIMARY KEY);
CREATE INDEX IF NOT EXISTS search_chunk_words ON search_chunk USING gin (words);
CREATE INDEX IF NOT EXISTS search_doc_title ON search_doc USING gin (title);
CREATE INDEX IF NOT EXISTS search_doc_filename ON search_doc USING gin (filename);
CREATE INDEX IF NOT EXISTS search_doc_author ON search_doc USING gin (author);
CREATE INDEX IF NOT EXISTS search_doc_ident ON search_doc USING gin (ident);
CREATE INDEX IF NOT EXISTS search_doc_ident_text ON search_doc USING gin (ident_text gin_trgm_ops);
CREATE INDEX IF NOT EXISTS search_doc_product ON search_doc USING gin (product);
CREATE INDEX IF NOT EXISTS search_doc_cr ON search_doc USING gin (cr);
CREATE INDEX IF NOT EXISTS search_doc_date ON search_doc (date);
CREATE INDEX IF NOT EXISTS search_word_trgm ON search_word USING gin (word gin_trgm_ops);
"""
_DROP = "DROP TABLE IF EXISTS search_chunk, search_doc, search_word, search_stamp"
_UPSERT_DOC = """
INSERT INTO search_doc (doc_id, title, filename, author, ident, ident_text, format, date, created,
                        modified, size, product, cr)
VALUES (%s, %s::tsvector, %s::tsvector, %s::tsvector, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (doc_id) DO UPDATE SET title = EXCLUDED.title, filename = EXCLUDED.filename,
    author = EXCLUDED.author, ident = EXCLUDED.ident, ident_text = EXCLUDED.ident_text,
    format = EXCLUDED.format, date = EXCLUDED.date, created = EXCLUDED.created,
    modified = EXCLUDED.modified, size = EXCLUDED.size, product = EXCLUDED.product, cr = EXCLUDED.cr
"""
_INSERT_CHUNKS = ("INSERT INTO search_chunk (doc_id, n, words) "
                  "SELECT %s, n, w::tsvector FROM unnest(%s::text[]) WITH ORDINALITY AS u(w, n)")
_INSERT_WORDS = "INSERT INTO search_word (word) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING"
_SEARCH = """
SELECT d.doc_id, {rank} AS score, count(*) OVER () AS total
FROM search_doc d WHERE {where} AND {filter}
ORDER BY score DESC, d.doc_id LIMIT %(limit)s
"""


class PgFulltextIndex:
    """The full-text index of one team archive, in tables of its PostgreSQL database."""

    def __init__(self, url: str):
        self.url = url
        self._conn: psycopg.Connection | None = None

    def close(self) -> None:
        """Close the connection kept open between searches."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        """Return the open connection (autocommit: writes use explicit transactions), connecting if needed."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True)
            except psycopg.OperationalError as exc:
                raise FulltextError(f"cannot connect to the search database ({_first_line(exc)})") from exc
        return self._conn

    # -- lifecycle ----------------------------------------------------------

    def exists(self) -> bool:
        """Tell whether an index (of any version) is in the database."""
        return _stamp(self._connection()) is not False

    def create(self) -> None:
        """Create the index's tables and stamp where they are missing (replacing nothing)."""
        conn = self._connection()
        with conn.transaction():
            conn.execute(_TABLES)
            conn.execute("INSERT INTO search_stamp SELECT %s WHERE NOT EXISTS (SELECT FROM search_stamp)",
                         (SCHEMA_VERSION,))

    def _open(self) -> psycopg.Connection:
        """Return the connection once the index is known to be there at this version."""
        conn = self._connection()
        version = _stamp(conn)
        if version is False:
            raise IndexMissing("there is no search index")
        if version is None:
            raise IndexVersionMismatch("the search index has no version stamp")
        if version != SCHEMA_VERSION:
            raise IndexVersionMismatch(
                f"the search index was built by schema version {version}; this archiver uses {SCHEMA_VERSION}")
        return conn

    def check(self) -> None:
        """Raise a :class:`FulltextError` unless the index can be used."""
        self._open()

    def doc_ids(self) -> set[int]:
        """Return the ids of every document in the index."""
        return {row[0] for row in self._open().execute("SELECT doc_id FROM search_doc")}

    # -- writing ------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator["_Writer"]:
        """Yield a writer; commit when the block succeeds, roll back and re-raise when it fails."""
        conn = self._open()
        with conn.transaction(), conn.cursor() as cur:
            yield _Writer(cur)

    def rebuild(self, records: Iterable[IndexRecord]) -> int:
        """Empty the index and fill it from ``records`` in one transaction; return the number of documents.

        Searches see the old index until the new one commits. Tables of another
        version are dropped and created afresh.
        """
        conn = self._connection()
        count = 0
        with conn.transaction(), conn.cursor() as cur:
            if _stamp(conn) != SCHEMA_VERSION:
                cur.execute(_DROP)
                cur.execute(_TABLES)
                cur.execute("INSERT INTO search_stamp VALUES (%s)", (SCHEMA_VERSION,))
            cur.execute("DELETE FROM search_chunk; DELETE FROM search_doc; DELETE FROM search_word")
            w = _Writer(cur, fresh=True)
            for record in records:
                w.add(record)
                count += 1
        return count

    # -- searching ----------------------------------------------------------

    def search(self, text: str, *, formats: Iterable[str] = (), after: datetime | None = None,
               before: datetime | None = None, products: Iterable[str] = (),
               change_requests: Iterable[str] = (), limit: int = 20,
               text_of=None) -> tuple[list[Hit], int]:
        """Return ranked hits for a query and the total number of matches.

        ``text_of(doc_id)`` gives a document's text for its snippet (the index
        does not store text, the catalog does).
        """
        tree = fulltext.neutral(text)
        conn = self._open()
        with conn.cursor() as cur:
            sql = _Compiler(cur)
            where = sql.condition(tree)
            filt = sql.filter(formats, after, before, products, change_requests)
            rank = sql.rank()
            sql.params["limit"] = limit
            rows = cur.execute(_SEARCH.format(rank=rank, where=where, filter=filt), sql.params).fetchall()
            total = rows[0][2] if rows else 0
            if not rows and limit is not None and limit <= 0:
                total = cur.execute(f"SELECT count(*) FROM search_doc d WHERE {where} AND {filt}",
                                    sql.params).fetchone()[0]
        hits = [Hit(doc_id, round(float(score), 4), fulltext.snippet(text_of(doc_id) if text_of else "", tree))
                for doc_id, score, _ in rows]
        return hits, total


def _stamp(conn: psycopg.Connection) -> str | None | bool:
    """Return the index's schema version, None if it has no stamp, False if there are no tables."""
    if conn.execute("SELECT to_regclass('search_stamp')").fetchone()[0] is None:
        return False
    row = conn.execute("SELECT schema_version FROM search_stamp").fetchone()
    return row[0] if row else None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class _Writer:
    """Add and remove documents inside :meth:`PgFulltextIndex.writer`."""

    def __init__(self, cur: psycopg.Cursor, fresh: bool = False):
        self._cur = cur
        self._fresh = fresh  # the tables were emptied: no old chunks to remove

    def add(self, r: IndexRecord) -> None:
        """Add a document or replace it if its id is already indexed."""
        tokens = fulltext.analyse_record(r)
        self._cur.execute(_UPSERT_DOC, _doc_row(r, tokens))
        if not self._fresh:
            self._cur.execute("DELETE FROM search_chunk WHERE doc_id = %s", (r.doc_id,))
        chunks = list(_chunks(tokens["content"]))
        if chunks:
            self._cur.execute(_INSERT_CHUNKS, (r.doc_id, chunks))
        # Sorted, so that two writers take the words' locks in the same order.
        words = sorted({t for f in ("content",) + TEXT_FIELDS for t, _ in tokens[f] if _fits(t)})
        if words:
            self._cur.execute(_INSERT_WORDS, (words,))

    def delete(self, doc_id: int) -> None:
        """Remove a document from the index."""
        self._cur.execute("DELETE FROM search_doc WHERE doc_id = %s", (doc_id,))


def _doc_row(r: IndexRecord, tokens: dict[str, list[tuple[str, int]]]) -> tuple:
    """Return the values of a document's search_doc row."""
    ident, product, cr = ([t for t, _ in tokens[f] if _fits(t)] for f in ARRAY_FIELDS)
    short = [next(_chunks(tokens[f]), "") for f in TEXT_FIELDS]
    return (r.doc_id, *short, ident, " ".join(ident), r.format or "", _naive_utc(r.date),
            _naive_utc(r.created), _naive_utc(r.modified), r.size, product, cr)


def _naive_utc(value: datetime | None) -> datetime | None:
    """Return a time as naive UTC, as the Whoosh index keeps it."""
    if value is not None and value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _fits(token: str) -> bool:
    """Tell whether PostgreSQL can index a token (a tsvector word is at most 2,046 bytes)."""
    return 0 < len(token) and len(token.encode()) <= MAX_TOKEN_BYTES


def _chunks(tokens: list[tuple[str, int]]) -> Iterator[str]:
    """Yield tsvector literals of a text's tokens in overlapping chunks that PostgreSQL keeps whole."""
    tokens = [t for t in tokens if _fits(t[0])]
    start = 0
    while start < len(tokens):
        end = _chunk_end(tokens, start)
        yield _tsvector(tokens[start:end])
        if end == len(tokens):
            return
        start = max(start + 1, end - CHUNK_OVERLAP)


def _chunk_end(tokens: list[tuple[str, int]], start: int) -> int:
    """Return where the chunk from ``start`` must end: before too many positions, repeats or bytes."""
    first = tokens[start][1]
    counts: Counter[str] = Counter()
    size = 0
    for i in range(start, len(tokens)):
        token, pos = tokens[i]
        counts[token] += 1
        size += len(token) * 4 + 8
        if i > start and (pos - first >= CHUNK_POSITIONS or counts[token] > MAX_REPEATS or size > CHUNK_BYTES):
            return i
    return len(tokens)


def _tsvector(tokens: list[tuple[str, int]]) -> str:
    """Write tokens as a tsvector literal, positions counted from 1 at the first token."""
    first = tokens[0][1] if tokens else 0
    positions: dict[str, list[str]] = {}
    for token, pos in tokens:
        positions.setdefault(token, []).append(str(pos - first + 1))
    return " ".join(f"{_lexeme(t)}:{','.join(p)}" for t, p in positions.items())


def _lexeme(word: str) -> str:
    """Quote a word for a tsvector or tsquery literal (taken as it is: no parsing, no stemming)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _like(glob: str) -> str:
    """Turn a Whoosh glob (``*``, ``?``) into a LIKE pattern."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _regex(glob: str) -> str:
    """Turn a Whoosh glob into a regular expression for one word of a space-joined list."""
    body = "".join({"*": "[^ ]*", "?": "[^ ]"}.get(c, c if c.isalnum() else "\\" + c) for c in glob)
    return f"(^| ){body}( |$)"



class _Compiler:
    """Compile a neutral query tree into SQL conditions on ``search_doc d``, with named parameters."""

    def __init__(self, cur: psycopg.Cursor):
        self._cur = cur  # to look words up in the vocabulary while compiling
        self.params: dict[str, object] = {}
        self._ranked: dict[str, list[str]] = {f: [] for f in ("content", *TEXT_FIELDS, "ident")}
        self._negated = 0

    def param(self, value: object) -> str:
        """Keep a value as a parameter and return its placeholder."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    def condition(self, node: tuple) -> str:
        """Return the SQL condition (true or false, never NULL) of a tree."""
        kind = node[0]
        if kind in ("and", "or"):
            parts = [self.condition(child) for child in node[1]]
            return f"({f' {kind.upper()} '.join(parts)})" if parts else "false"
        if kind == "not":
            return f"NOT {self._negative(node[1])}"
        if kind == "andnot":
            return f"({self.condition(node[1])} AND NOT {self._negative(node[2])})"
        if kind == "andmaybe":
            self.condition(node[2])  # only ranks: its words count in the score
            return self.condition(node[1])
        if kind == "null":
            return "false"
        if kind == "every":
            return self._every(node[1])
        if node[1] == "content" or node[1] in TEXT_FIELDS:
            return self._words(node)
        if node[1] in ARRAY_FIELDS:
            return self._array(node)
        if node[1] in VALUE_FIELDS:
            return self._value(node)
        raise QuerySyntaxError(f"cannot understand the query: no field {node[1]!r}")

    def _negative(self, node: tuple) -> str:
        """Return the condition of a negated tree, whose words do not rank."""
        self._negated += 1
        try:
            return self.condition(node)
        finally:
            self._negated -= 1

    def _every(self, field: str | None) -> str:
        """Return the condition that a document has anything in a field (None: any document)."""
        if field is None:
            return "true"
        if field == "content":
            return "d.doc_id IN (SELECT doc_id FROM search_chunk)"
        if field in TEXT_FIELDS:
            return f"(length(d.{field}) > 0)"
        if field in ARRAY_FIELDS:
            return f"(cardinality(d.{field}) > 0)"
        if field in ("format", "size", "doc_id"):
            return "true"  # Whoosh indexes these for every document, an empty format too
        return f"(d.{field} IS NOT NULL)"

    def _words(self, node: tuple) -> str:
        """Return the condition of a leaf on the text, title, filename or author."""
        kind, field = node[0], node[1]
        if kind == "prefix" and not node[2]:
            return self._every(field)
        if kind == "phrase" and node[3] > 1:
            return self._near(field, node[2], node[3])
        tsquery = self._tsquery(node)
        if tsquery is None:
            return "false"
        if not self._negated:
            self._ranked[field].append(tsquery)
        if field == "content":
            return f"d.doc_id IN (SELECT doc_id FROM search_chunk WHERE words @@ {self.param(tsquery)}::tsquery)"
        return f"(d.{field} @@ {self.param(tsquery)}::tsquery)"

    def _tsquery(self, node: tuple) -> str | None:
        """Return the tsquery of a word leaf, None if it cannot match."""
        kind = node[0]
        if kind == "term":
            return _lexeme(node[2]) if _fits(node[2]) else None
        if kind == "phrase":
            return " <-> ".join(map(_lexeme, node[2])) if all(map(_fits, node[2])) else None
        if kind == "prefix":
            return _lexeme(node[2]) + ":*" if _fits(node[2]) else None
        if kind in ("wildcard", "termrange"):
            return " | ".join(map(_lexeme, self._vocabulary(node))) or None
        raise QuerySyntaxError(f"cannot understand the query: {node[1]} is not a date or number field")

    def _vocabulary(self, node: tuple) -> list[str]:
        """Return the indexed words that a wildcard or a word range stands for."""
        if node[0] == "wildcard":
            where, values = "word LIKE %s", [_like(node[2])]
        else:
            values = []
            where = _between("word", *node[2:], lambda v: values.append(v) or "%s")
        return [row[0] for row in self._cur.execute(f"SELECT word FROM search_word WHERE {where}", values)]

    def _near(self, field: str, words: list[str], slop: int) -> str:
        """Return the condition of a phrase whose words stand 1..slop positions after each other."""
        if not all(map(_fits, words)):
            return "false"
        all_words = " & ".join(map(_lexeme, words))
        if not self._negated:
            self._ranked[field].append(all_words)
        every = self.param(all_words)
        column = "c.words" if field == "content" else f"d.{field}"
        scans = ", ".join(f"unnest({column}) u{k}, unnest(u{k}.positions) p{k}" for k in range(len(words)))
        conds = [f"u{k}.lexeme = {self.param(w)}" for k, w in enumerate(words)]
        conds += [f"p{k} - p{k - 1} BETWEEN 1 AND {self.param(slop)}" for k in range(1, len(words))]
        near = f"EXISTS (SELECT FROM {scans} WHERE {' AND '.join(conds)})"
        if field == "content":
            return f"d.doc_id IN (SELECT c.doc_id FROM search_chunk c WHERE c.words @@ {every}::tsquery AND {near})"
        return f"(d.{field} @@ {every}::tsquery AND {near})"

    def _array(self, node: tuple) -> str:
        """Return the condition of a leaf on the identifiers, products or change requests."""
        kind, field = node[0], node[1]
        if kind == "term":
            if field == "ident" and not self._negated:
                self._ranked["ident"].append(node[2])
            return f"(d.{field} @> ARRAY[{self.param(node[2])}]::text[])"
        if kind in ("prefix", "wildcard"):
            glob = node[2] + "*" if kind == "prefix" else node[2]
            if field == "ident":  # the trigram index finds them
                return f"(d.ident_text ~ {self.param(_regex(glob))})"
            return f"EXISTS (SELECT FROM unnest(d.{field}) t WHERE t LIKE {self.param(_like(glob))})"
        if kind == "termrange":
            inside = _between('t COLLATE "C"', *node[2:], self.param)
            return f"EXISTS (SELECT FROM unnest(d.{field}) t WHERE {inside})"
        if kind == "phrase" and field == "ident":
            return self._ident_phrase(node[2], node[3])
        raise QuerySyntaxError(f"cannot understand the query: the {field} field has no {kind} search")

    def _ident_phrase(self, words: list[str], slop: int) -> str:
        """Return the condition that identifiers follow each other (1..slop apart) in a document."""
        scans = ", ".join(f"unnest(d.ident) WITH ORDINALITY i{k}(t, n)" for k in range(len(words)))
        conds = [f"i{k}.t = {self.param(w)}" for k, w in enumerate(words)]
        conds += [f"i{k}.n - i{k - 1}.n BETWEEN 1 AND {self.param(slop)}" for k in range(1, len(words))]
        return (f"(d.ident @> {self.param(list(words))}::text[] "
                f"AND EXISTS (SELECT FROM {scans} WHERE {' AND '.join(conds)}))")

    def _value(self, node: tuple) -> str:
        """Return the condition of a leaf on the format, a date, the size or the id."""
        kind, field = node[0], node[1]
        column = f"d.{field}"
        if kind == "term":
            return f"coalesce({column} = {self.param(node[2])}, false)"
        if kind == "range":
            return f"coalesce({_between(column, node[2], node[3], False, False, self.param)}, false)"
        if field == "format" and kind in ("prefix", "wildcard"):
            glob = node[2] + "*" if kind == "prefix" else node[2]
            return f"(d.format LIKE {self.param(_like(glob))})"
        if field == "format" and kind == "termrange":
            return "(" + _between('d.format COLLATE "C"', *node[2:], self.param) + ")"
        raise QuerySyntaxError(f"cannot understand the query: the {field} field has no {kind} search")

    def filter(self, formats: Iterable[str], after: datetime | None, before: datetime | None,
               products: Iterable[str], change_requests: Iterable[str]) -> str:
        """Return the condition of the search options, applied as the Whoosh index applies them."""
        parts = []
        formats = list(formats)
        if formats:
            parts.append(f"d.format = ANY({self.param(formats)}::text[])")
        if after or before:
            dates = _between("d.date", _naive_utc(after), _naive_utc(before), False, False, self.param)
            parts.append(f"coalesce({dates}, false)")
        for field, values in (("product", products), ("cr", change_requests)):
            values = [v.lower() for v in values]
            if values:
                parts.append(f"(d.{field} && {self.param(values)}::text[])")
        return " AND ".join(parts) or "true"

    def rank(self) -> str:
        """Return the score of a match: its best chunk, then title, filename, author and identifiers."""
        parts = []
        if words := self._ranked["content"]:
            q = self.param(" | ".join(f"({w})" for w in words))
            parts.append(f"coalesce((SELECT max(ts_rank(c.words, {q}::tsquery)) FROM search_chunk c "
                         f"WHERE c.doc_id = d.doc_id AND c.words @@ {q}::tsquery), 0)")
        for field, weight in (("title", 2), ("filename", 1), ("author", 1)):
            if words := self._ranked[field]:
                q = self.param(" | ".join(f"({w})" for w in words))
                parts.append(f"{weight} * ts_rank(d.{field}, {q}::tsquery)")
        if idents := self._ranked["ident"]:
            parts.append(f"3 * (d.ident && {self.param(idents)}::text[])::int")
        return " + ".join(parts) or "0"


def _between(column: str, start, end, start_excl: bool, end_excl: bool, param) -> str:
    """Return the condition that a column lies between two bounds (None: open), placing values with ``param``."""
    parts = []
    if start is not None:
        parts.append(f"{column} {'>' if start_excl else '>='} {param(start)}")
    if end is not None:
        parts.append(f"{column} {'<' if end_excl else '<='} {param(end)}")
    return " AND ".join(parts) or f"{column} IS NOT NULL"
