"""Keep a team archive's full-text index in PostgreSQL, finding what the Whoosh index finds.

Whoosh still defines the search (indexes/fulltext.py): its analyzers give the
tokens stored here and its parser reads a query into an engine-neutral tree,
which this module compiles into one SQL query. PostgreSQL's own parser and
stemmer are never used, so both engines compare the same tokens.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterable, Iterator

import psycopg

from indexes import fulltext
from indexes.fulltext import (FulltextError, Hit, IndexMissing, IndexRecord, IndexVersionMismatch,
                              QuerySyntaxError)

SCHEMA_VERSION = f"1/{fulltext.SCHEMA_VERSION}"  # our tables / the Whoosh analysis: either means reindex
CHUNK_POSITIONS = 10_000  # PostgreSQL keeps positions up to 16,383 only,
MAX_REPEATS = 256         # 256 positions of a word per tsvector,
CHUNK_BYTES = 500_000     # under 1 MB per tsvector,
MAX_TOKEN_BYTES = 2046    # and no longer word
CHUNK_OVERLAP = 64        # a phrase of up to 65 words lies whole in some chunk
TEXT_FIELDS = ("title", "filename", "author")  # tsvector columns of search_doc (content is in chunks)
ARRAY_FIELDS = ("ident", "product", "cr")
VALUE_FIELDS = ("format", "date", "created", "modified", "size", "doc_id")
_CODE_POINT_ORDER = ' COLLATE "C"'  # how Whoosh orders words (for ranges)

_TABLES = """
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS search_stamp (schema_version text NOT NULL);
CREATE TABLE IF NOT EXISTS search_doc (
    doc_id bigint PRIMARY KEY, title tsvector NOT NULL, filename tsvector NOT NULL, author tsvector NOT NULL,
    ident text[] NOT NULL, ident_text text NOT NULL, format text NOT NULL,
    date timestamp, created timestamp, modified timestamp, size bigint NOT NULL,
    product text[] NOT NULL, cr text[] NOT NULL);
CREATE TABLE IF NOT EXISTS search_chunk (
    doc_id bigint NOT NULL REFERENCES search_doc ON DELETE CASCADE, n int NOT NULL,
    words tsvector NOT NULL, PRIMARY KEY (doc_id, n));
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
_DOC_COLUMNS = ("doc_id", "title", "filename", "author", "ident", "ident_text", "format", "date", "created",
                "modified", "size", "product", "cr")
_UPSERT_DOC = (f"INSERT INTO search_doc ({', '.join(_DOC_COLUMNS)}) VALUES ({', '.join(['%s'] * 13)}) "
               f"ON CONFLICT (doc_id) DO UPDATE SET "
               + ", ".join(f"{c} = EXCLUDED.{c}" for c in _DOC_COLUMNS[1:]))
_INSERT_CHUNKS = ("INSERT INTO search_chunk (doc_id, n, words) "
                  "SELECT %s, n, w::tsvector FROM unnest(%s::text[]) WITH ORDINALITY AS u(w, n)")
_INSERT_WORDS = "INSERT INTO search_word (word) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING"
# The planner takes a tsvector kept out of line (TOAST) as free to read, and would read every
# chunk for a common word instead of asking the GIN index (3x slower). JIT costs more than a search.
_PLANNER = "SET LOCAL enable_seqscan = off; SET LOCAL jit = off"
_SEARCH = """
WITH {chunks}hit AS MATERIALIZED (SELECT d.doc_id, {score} AS score FROM search_doc d WHERE {where} AND {filter}),
best AS ({best})
SELECT hit.doc_id, hit.score + coalesce(best.score, 0), count(*) OVER ()
FROM hit LEFT JOIN best ON best.doc_id = hit.doc_id ORDER BY 2 DESC, hit.doc_id LIMIT %(limit)s
"""
# A document's text ranks by its best chunk for the query's content words.
_BEST = """SELECT c.doc_id, max(ts_rank(c.words, {words}::tsquery)) AS score FROM search_chunk c
         JOIN hit ON hit.doc_id = c.doc_id WHERE c.words @@ {words}::tsquery GROUP BY c.doc_id"""
# The chunks that hold one word, phrase or prefix of the content, read once: when that is the
# query's only ranked content, they rank it as well (reading each chunk a second time cost as much).
_CHUNKS = """{name} AS MATERIALIZED (SELECT doc_id, max(score) AS score FROM (SELECT doc_id, {rank} AS score
         FROM search_chunk WHERE words @@ {tsquery}::tsquery OFFSET 0) m GROUP BY doc_id),
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
        """Return the open connection (autocommit; writes use explicit transactions), connecting if needed."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True)
            except psycopg.OperationalError as exc:
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise FulltextError(f"cannot connect to the search database ({reason})") from exc
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
        """Return the connection once the index is known to be there, at this version."""
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
            w = _Writer(cur)
            yield w
            w.flush()

    def rebuild(self, records: Iterable[IndexRecord]) -> int:
        """Empty the index and refill it from ``records`` in one transaction; return the number of documents.

        Searches see the old index until the new one commits; tables of another
        version are dropped and created afresh.
        """
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            if _stamp(conn) != SCHEMA_VERSION:
                cur.execute(_DROP)
                self.create()
            cur.execute("DELETE FROM search_chunk; DELETE FROM search_doc; DELETE FROM search_word")
            w = _Writer(cur, fresh=True)
            count = 0
            for record in records:
                w.add(record)
                count += 1
            w.flush()
            cur.execute("ANALYZE search_doc, search_chunk, search_word")  # the planner needs fresh statistics
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
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(_PLANNER)
            formats, products, change_requests = list(formats), list(products), list(change_requests)
            filters = bool(formats or after or before or products or change_requests)
            # A query that is one word or phrase (in any field) finds its documents by their text:
            # ranking the text while finding it saves a second read. Narrowed by filters or other
            # conditions, the few documents left are ranked afterwards instead.
            sql = _Compiler(cur, rank_while_finding=not filters and tree[0] not in ("and", "andnot", "not"))
            where = sql.condition(tree)
            filt = sql.filter(formats, after, before, products, change_requests)
            score, words = sql.rank()
            sql.params["limit"] = None if limit is None else max(limit, 1)  # a row at least: it holds the total
            rows = cur.execute(_SEARCH.format(chunks=sql.chunks(), score=score, where=where, filter=filt,
                                              best=sql.best() or _BEST.format(words=words)), sql.params).fetchall()
        total = rows[0][2] if rows else 0
        rows = rows if limit is None else rows[:max(limit, 0)]
        return [Hit(doc_id, round(float(score), 4), fulltext.snippet(text_of(doc_id) if text_of else "", tree))
                for doc_id, score, _ in rows], total


def _stamp(conn: psycopg.Connection) -> str | None | bool:
    """Return the index's schema version, None if it has no stamp, False if it has no tables."""
    if conn.execute("SELECT to_regclass('search_stamp')").fetchone()[0] is None:
        return False
    row = conn.execute("SELECT schema_version FROM search_stamp").fetchone()
    return row[0] if row else None


class _Writer:
    """Add and remove documents inside :meth:`PgFulltextIndex.writer`."""

    def __init__(self, cur: psycopg.Cursor, fresh: bool = False):
        self._cur = cur
        self._fresh = fresh  # the tables were just emptied: there are no old chunks to remove
        self._words: set[str] = set()

    def flush(self) -> None:
        """Add the new words of the documents added to the vocabulary (before the transaction commits).

        Once per transaction and sorted: two writers (workers of a team archive) then
        lock new words in the same order and never deadlock, as they did word list by word list.
        """
        if self._words:
            self._cur.execute(_INSERT_WORDS, (sorted(self._words),))
            self._words = set()

    def add(self, r: IndexRecord) -> None:
        """Add a document or replace it if its id is already indexed."""
        tokens = fulltext.analyse_record(r)
        self._cur.execute(_UPSERT_DOC, _doc_row(r, tokens))
        if not self._fresh:
            self._cur.execute("DELETE FROM search_chunk WHERE doc_id = %s", (r.doc_id,))
        if chunks := list(_chunks(tokens["content"])):
            self._cur.execute(_INSERT_CHUNKS, (r.doc_id, chunks))
        self._words.update(t for f in ("content", *TEXT_FIELDS) for t, _ in tokens[f] if _fits(t))

    def delete(self, doc_id: int) -> None:
        """Remove a document from the index."""
        self._cur.execute("DELETE FROM search_doc WHERE doc_id = %s", (doc_id,))


def _doc_row(r: IndexRecord, tokens: dict[str, list[tuple[str, int]]]) -> tuple:
    """Return the values of a document's search_doc row, in the order of ``_DOC_COLUMNS``."""
    ident, product, cr = ([t for t, _ in tokens[f] if _fits(t)] for f in ARRAY_FIELDS)
    # A short field is one tsvector: past 16,383 positions or 256 repeats, PostgreSQL
    # keeps its words but not their places (only a phrase there can be missed).
    short = [_tsvector([t for t in tokens[f] if _fits(t[0])]) for f in TEXT_FIELDS]
    return (r.doc_id, *short, ident, " ".join(ident), r.format or "", _naive_utc(r.date),
            _naive_utc(r.created), _naive_utc(r.modified), r.size, product, cr)


def _naive_utc(value: datetime | None) -> datetime | None:
    """Return a time as naive UTC, as the Whoosh index keeps it."""
    if value is not None and value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _fits(token: str) -> bool:
    """Tell whether PostgreSQL can keep a token in a tsvector."""
    return 0 < len(token) and len(token.encode()) <= MAX_TOKEN_BYTES


def _chunks(tokens: list[tuple[str, int]]) -> Iterator[str]:
    """Yield tsvector literals of a text's tokens, in overlapping chunks that PostgreSQL keeps whole."""
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
    first, size, counts = tokens[start][1], 0, Counter()
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
    """Quote a word for a tsvector or tsquery literal, which takes it as it is (no parsing, no stemming)."""
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
    """Compile a neutral query tree into SQL conditions on ``search_doc d``, with named parameters.

    Every condition is true or false, never NULL, so that NOT is the complement.
    """

    def __init__(self, cur: psycopg.Cursor, rank_while_finding: bool = False):
        self._cur = cur  # to look wildcards up in the vocabulary
        self._rank_while_finding = rank_while_finding
        self.params: dict[str, object] = {}
        self._ranked: dict[str, list[str]] = {f: [] for f in ("content", *TEXT_FIELDS, "ident")}
        self._negated = 0
        self._chunk_sets: dict[tuple[str, bool], str] = {}   # (tsquery, ranked) -> name of its CTE

    def param(self, value: object) -> str:
        """Keep a value as a parameter and return its placeholder."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    def condition(self, node: tuple) -> str:
        """Return the SQL condition of a tree."""
        kind = node[0]
        if kind in ("and", "or"):
            parts = [self.condition(child) for child in node[1]]
            return f"({f' {kind.upper()} '.join(parts)})" if parts else "false"
        if kind == "not":
            return f"NOT {self._negative(node[1])}"
        if kind == "andnot":
            return f"({self.condition(node[1])} AND NOT {self._negative(node[2])})"
        if kind == "andmaybe":
            self.condition(node[2])  # its words only rank
            return self.condition(node[1])
        if kind in ("null", "every"):
            return self._every(node[1]) if kind == "every" else "false"
        if node[1] in ("content", *TEXT_FIELDS):
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
        """Return the condition that a document has any token in a field (None: any document)."""
        if field is None or field in ("format", "size", "doc_id"):
            return "true"  # Whoosh indexes these for every document, an empty format too
        if field == "content":
            return "d.doc_id IN (SELECT doc_id FROM search_chunk)"
        if field in TEXT_FIELDS:
            return f"(length(d.{field}) > 0)"
        if field in ARRAY_FIELDS:
            return f"(cardinality(d.{field}) > 0)"
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
            ranked = self._rank_while_finding and not self._negated
            return f"d.doc_id IN (SELECT doc_id FROM {self._chunk_set(tsquery, ranked)})"
        return f"(d.{field} @@ {self.param(tsquery)}::tsquery)"

    def _chunk_set(self, tsquery: str, ranked: bool) -> str:
        """Return the name of the CTE of the documents whose text matches a tsquery (with its rank if ranked)."""
        key = (tsquery, ranked)
        if key not in self._chunk_sets:
            self._chunk_sets[key] = f"c{len(self._chunk_sets)}"
        return self._chunk_sets[key]

    def chunks(self) -> str:
        """Return the CTEs of the content's words, phrases and prefixes (before ``hit``)."""
        out = []
        for (tsquery, ranked), name in self._chunk_sets.items():
            q = self.param(tsquery)
            # (Ranked before grouping, OFFSET 0 keeping it so: sorting the rows with their
            # tsvectors for the grouping spilled to disk.)
            out.append(_CHUNKS.format(name=name, tsquery=q, rank=f"ts_rank(words, {q}::tsquery)" if ranked
                                      else "NULL::real"))
        return "".join(out)

    def best(self) -> str | None:
        """Return the ranking of the text from a chunk CTE when the query ranks by that one tsquery, else None."""
        if len(self._ranked["content"]) == 1:
            name = self._chunk_sets.get((self._ranked["content"][0], True))
            if name:
                return f"SELECT doc_id, score FROM {name}"
        return None

    def _tsquery(self, node: tuple) -> str | None:
        """Return the tsquery of a word leaf, None if it matches nothing."""
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
        values: list = []
        if node[0] == "wildcard":
            where, values = "word LIKE %s", [_like(node[2])]
        else:
            where = _between("word", *node[2:], lambda v: values.append(v) or "%s")
        return [row[0] for row in self._cur.execute(f"SELECT word FROM search_word WHERE {where}", values)]

    def _near(self, field: str, words: list[str], slop: int) -> str:
        """Return the condition of a phrase whose words stand 1..slop positions after each other."""
        if not all(map(_fits, words)):
            return "false"
        every = " & ".join(map(_lexeme, words))
        if not self._negated:
            self._ranked[field].append(every)
        column = "c.words" if field == "content" else f"d.{field}"
        scans = ", ".join(f"unnest({column}) u{k}, unnest(u{k}.positions) p{k}" for k in range(len(words)))
        conds = [f"u{k}.lexeme = {self.param(w)}" for k, w in enumerate(words)]
        conds += [f"p{k} - p{k - 1} BETWEEN 1 AND {self.param(slop)}" for k in range(1, len(words))]
        near = (f"{column} @@ {self.param(every)}::tsquery "
                f"AND EXISTS (SELECT FROM {scans} WHERE {' AND '.join(conds)})")
        if field == "content":
            return f"d.doc_id IN (SELECT c.doc_id FROM search_chunk c WHERE {near})"
        return f"({near})"

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
            inside = _between("t" + _CODE_POINT_ORDER, *node[2:], self.param)
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
        if kind == "term":
            return f"coalesce(d.{field} = {self.param(node[2])}, false)"
        if kind == "range":
            return f"coalesce({_between('d.' + field, node[2], node[3], False, False, self.param)}, false)"
        if field == "format" and kind in ("prefix", "wildcard"):
            return f"(d.format LIKE {self.param(_like(node[2] + '*' if kind == 'prefix' else node[2]))})"
        if field == "format" and kind == "termrange":
            return f"({_between('d.format' + _CODE_POINT_ORDER, *node[2:], self.param)})"
        raise QuerySyntaxError(f"cannot understand the query: the {field} field has no {kind} search")

    def filter(self, formats: Iterable[str], after: datetime | None, before: datetime | None,
               products: Iterable[str], change_requests: Iterable[str]) -> str:
        """Return the condition of the search options, applied as the Whoosh index applies them."""
        parts = []
        if formats := list(formats):
            parts.append(f"d.format = ANY({self.param(formats)}::text[])")
        if after or before:
            dates = _between("d.date", _naive_utc(after), _naive_utc(before), False, False, self.param)
            parts.append(f"coalesce({dates}, false)")
        for field, values in (("product", products), ("cr", change_requests)):
            if values := [v.lower() for v in values]:
                parts.append(f"(d.{field} && {self.param(values)}::text[])")
        return " AND ".join(parts) or "true"

    def rank(self) -> tuple[str, str]:
        """Return a match's score by title, filename, author and identifiers, and the words that rank its text."""
        parts = []
        for field, weight in (("title", 2), ("filename", 1), ("author", 1)):
            if words := self._ranked[field]:
                parts.append(f"{weight} * ts_rank(d.{field}, {self.param(_any(words))}::tsquery)")
        if idents := self._ranked["ident"]:
            parts.append(f"3 * (d.ident && {self.param(idents)}::text[])::int")
        words = self._ranked["content"]
        return " + ".join(parts) or "0", self.param(_any(words) if words else None)


def _any(tsqueries: list[str]) -> str:
    """Return a tsquery matching any of some tsqueries."""
    return " | ".join(f"({q})" for q in tsqueries)


def _between(column: str, start, end, start_excl: bool, end_excl: bool, param) -> str:
    """Return the condition that a column lies between two bounds (None: open), placing values with ``param``."""
    parts = []
    if start is not None:
        parts.append(f"{column} {'>' if start_excl else '>='} {param(start)}")
    if end is not None:
        parts.append(f"{column} {'<' if end_excl else '<='} {param(end)}")
    return " AND ".join(parts) or f"{column} IS NOT NULL"
