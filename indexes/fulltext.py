"""Keep the full-text search index: the only module that knows Whoosh.

Everything Whoosh-specific (schema, analyzers, query parsing, highlighting,
on-disk layout) lives here, so that another engine (whoosh3, Tantivy,
PostgreSQL full-text search) can replace it by rewriting this one file.
"""
from __future__ import annotations

import fnmatch
import json
import math
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from whoosh import analysis, fields, highlight, index, matching, qparser, query
from whoosh.support.charset import accent_map
from whoosh.util.times import long_to_datetime

SCHEMA_VERSION = 1
META_FILE = "archiver-index.json"
DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
SNIPPET_CHARS = 240
SNIPPET_WINDOW = 4_000


class FulltextError(Exception):
    """The index cannot be used; the message says what to do."""


class IndexMissing(FulltextError):
    """No index exists at the path."""


class IndexVersionMismatch(FulltextError):
    """The index was built by another schema version or cannot be opened."""


class QuerySyntaxError(FulltextError):
    """A query could not be parsed."""


@dataclass(frozen=True)
class IndexRecord:
    """What the index needs of one document."""

    doc_id: int
    title: str
    content: str
    filename: str = ""
    author: str = ""
    format: str = ""
    date: datetime | None = None
    created: datetime | None = None
    modified: datetime | None = None
    size: int = 0
    products: tuple[str, ...] = ()
    change_requests: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """One ranked match: a document id, its score and a highlighted snippet."""

    doc_id: int
    score: float
    snippet: str


class _DigitsOnly(analysis.Filter):
    """Keep identifier-shaped tokens: those holding a digit."""

    def __call__(self, tokens):
        for t in tokens:
            # A query keeps its words: 'SPEC-*' is a pattern over indexed 'spec-104', 'spec-21'...
            if getattr(t, "mode", "") == "query" or any(c.isdigit() for c in t.text):
                yield t


class _FoldDashes(analysis.Filter):
    """Normalise Unicode dashes to '-' so that 'CR–2023–0142' is 'CR-2023-0142'."""

    def __call__(self, tokens):
        for t in tokens:
            t.text = t.text.translate(DASHES)
            yield t


_IDENT_TOKEN = r"\w+(?:[-\u2010-\u2015\u2212_.]\w+)*"
_IDENT_FIND = re.compile(_IDENT_TOKEN)


def _identifiers(*texts: str | None) -> str:
    """Return the distinct identifier-shaped tokens (holding a digit) of some texts, one per line.

    The exact-match field needs no positions of ordinary words: handing it only
    these tokens spares Whoosh a second full analysis of every text.
    """
    found: dict[str, None] = {}
    for text in texts:
        for token in _IDENT_FIND.findall(text or ""):
            if any(c.isdigit() for c in token):
                found.setdefault(token, None)
    return "\n".join(found)


def _schema() -> fields.Schema:
    prose = (analysis.RegexTokenizer() | analysis.LowercaseFilter()
             | analysis.CharsetFilter(accent_map) | analysis.StopFilter() | analysis.StemFilter())
    ident = (analysis.RegexTokenizer(_IDENT_TOKEN) | _FoldDashes() | analysis.LowercaseFilter()
             | _DigitsOnly())
    return fields.Schema(
        doc_id=fields.NUMERIC(int, bits=64, stored=True, unique=True, signed=False),
        title=fields.TEXT(analyzer=prose, field_boost=2.0),
        content=fields.TEXT(analyzer=prose, multitoken_query="phrase"),
        filename=fields.TEXT(analyzer=prose),
        ident=fields.TEXT(analyzer=ident, field_boost=3.0, multitoken_query="phrase"),
        author=fields.TEXT(analyzer=analysis.StandardAnalyzer() | analysis.CharsetFilter(accent_map)),
        format=fields.ID(),
        date=fields.DATETIME(),
        created=fields.DATETIME(),
        modified=fields.DATETIME(),
        size=fields.NUMERIC(int, bits=64, signed=False),
        product=fields.KEYWORD(lowercase=True, commas=True),
        cr=fields.KEYWORD(lowercase=True, commas=True),
    )


def _naive_utc(value: datetime | None) -> datetime | None:
    # Whoosh's DATETIME drops time zones: store UTC, naive.
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


class FulltextIndex:
    """The full-text index of one archive, in a folder of its own."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._searcher = None
        self._opened: tuple[int, int] | None = None

    def close(self) -> None:
        """Close the searcher kept open between searches."""
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def _current_searcher(self):
        """Return a searcher of the latest commit, reusing the open one when the index is the same.

        Opening the index costs more than a typical search; a rebuild swaps the
        folder, so a folder of a new inode (or a new stamp) is opened afresh.
        """
        try:
            st = self.path.stat()
            opened = (st.st_ino, (self.path / META_FILE).stat().st_mtime_ns)
        except OSError:
            opened = None
        if self._searcher is not None and opened == self._opened:
            try:
                self._searcher = self._searcher.refresh()
                return self._searcher
            except Exception:  # noqa: BLE001 - the index changed under us: open it again
                pass
        self.close()
        ix = self._open()
        self._searcher, self._opened = ix.searcher(), opened
        return self._searcher

    # -- lifecycle ----------------------------------------------------------

    def exists(self) -> bool:
        """Tell whether an index (of any version) is at the path."""
        return (self.path / META_FILE).is_file() or index.exists_in(str(self.path))

    def create(self) -> None:
        """Create an empty index (replacing nothing: the folder must be empty or absent)."""
        self.path.mkdir(parents=True, exist_ok=True)
        index.create_in(str(self.path), _schema())
        (self.path / META_FILE).write_text(json.dumps({"schema_version": SCHEMA_VERSION}))

    def _open(self) -> index.Index:
        meta = self.path / META_FILE
        if not meta.is_file():
            if index.exists_in(str(self.path)):
                raise IndexVersionMismatch("the search index has no version stamp")
            raise IndexMissing("there is no search index")
        try:
            version = json.loads(meta.read_text()).get("schema_version")
        except (ValueError, OSError) as exc:
            raise IndexVersionMismatch(f"the search index version stamp is unreadable ({exc})") from exc
        if version != SCHEMA_VERSION:
            raise IndexVersionMismatch(
                f"the search index was built by schema version {version}; this archiver uses {SCHEMA_VERSION}")
        for attempt in range(5):
            try:
                return index.open_dir(str(self.path))
            except FileNotFoundError as exc:
                # A writer committed a newer generation and removed the one being opened: open that.
                if attempt == 4:
                    raise IndexVersionMismatch(f"the search index is damaged (FileNotFoundError: {exc})") from exc
                time.sleep(0.05 * (attempt + 1))
            except Exception as exc:  # Whoosh raises many types for a damaged index
                raise IndexVersionMismatch(f"the search index is damaged ({type(exc).__name__}: {exc})") from exc

    def check(self) -> None:
        """Raise a :class:`FulltextError` unless the index can be opened."""
        self._open().close()

    def doc_ids(self) -> set[int]:
        """Return the ids of every document in the index."""
        ix = self._open()
        with ix.searcher() as s:
            return {fields_["doc_id"] for fields_ in s.all_stored_fields()}

    # -- writing ------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator["_Writer"]:
        """Yield a writer; commit when the block succeeds, cancel and re-raise when it fails."""
        ix = self._open()
        w = ix.writer(timeout=30.0)
        try:
            yield _Writer(w)
        except BaseException:
            w.cancel()
            ix.close()
            raise
        w.commit(mergetype=_merge_tiers)
        ix.close()

    def rebuild(self, records: Iterable[IndexRecord]) -> int:
        """Build a fresh index from ``records`` beside the old one, then swap it in."""
        new = self.path.with_name(self.path.name + ".new")
        old = self.path.with_name(self.path.name + ".old")
        shutil.rmtree(new, ignore_errors=True)
        FulltextIndex(new).create()
        count = 0
        with FulltextIndex(new).writer() as w:
            for record in records:
                w.add(record)
                count += 1
        shutil.rmtree(old, ignore_errors=True)
        if self.path.exists():
            self.path.rename(old)
        new.rename(self.path)
        shutil.rmtree(old, ignore_errors=True)
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
        s = self._current_searcher()
        q = self.parse(text, s.schema)
        filt = _filter(formats, after, before, products, change_requests)
        # Score every match in one pass and count what the filter left. A top-N
        # search would be no faster: Whoosh runs the query a second time to count
        # (and its in-pass count drops matches that cannot reach the top N).
        results = s.search(_preload_wildcards(_fast_phrases(q), s.reader()), filter=filt, limit=None)
        total = results.scored_length()
        results.fragmenter = highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=80, charlimit=None)
        results.formatter = _Marker()
        idents = _ident_pattern(q)
        # A query with no words of the text (title:, date:, identifiers only) has nothing
        # to highlight there: do not analyse every window of every hit to find that out.
        words = any(f == "content" for f, _ in q.iter_all_terms())
        hits = [Hit(h["doc_id"], round(h.score, 4), _snippet(h, words, idents, text_of)) for h in results[:limit]]
        return hits, total

    @staticmethod
    def parse(text: str, schema: fields.Schema | None = None) -> query.Query:
        """Parse a user query: Whoosh syntax, identifiers matched exactly as written."""
        schema = schema or _schema()
        for name in _QUERY_FIELD.findall(_QUOTED.sub(" ", text)):
            if name not in schema.names() and name.lower() not in schema.names():
                raise QuerySyntaxError(f"cannot understand the query {text!r}: no field {name!r} "
                                       f"(fields: {', '.join(PUBLIC_FIELDS)})")
        parser = qparser.MultifieldParser(["title", "content", "filename", "ident", "author"], schema)
        parser.add_plugin(qparser.GtLtPlugin())
        try:
            q = parser.parse(_rewrite_identifiers(text))
        except Exception as exc:
            raise QuerySyntaxError(f"cannot understand the query {text!r}: {_plain(exc)}") from exc
        errors = [n.error for n in _walk(q) if getattr(n, "error", None)]
        if errors:
            raise QuerySyntaxError(f"cannot understand the query {text!r}: {_plain(errors[0])}")
        return q


PUBLIC_FIELDS = ("title", "content", "filename", "author", "format", "date", "created", "modified", "product", "cr")
_QUOTED = re.compile(r'"[^"]*"')
_QUERY_FIELD = re.compile(r"(?<![\w\-])([A-Za-z_]+):(?!//)")


def _plain(error) -> str:
    """Say a parser error in words: Whoosh's date parser leaks int() messages."""
    message = str(error)
    if "invalid literal for int()" in message or "time data" in message:
        return "a date must be written YYYY, YYYY-MM or YYYY-MM-DD (ranges: date:[2024-01-01 TO 2024-06-30])"
    return message


_EXACT_FIELDS = ("ident", "cr", "product")


def _fast_phrases(q: query.Query) -> query.Query:
    """Answer phrases of the text with :class:`_Phrase` (the same matches, found faster), and ANDNOT as AND NOT.

    Whoosh's own ANDNOT matcher keeps a document it should drop when the
    excluded side's first match comes earlier; ``a AND NOT b`` is the same query, answered right.
    """
    if type(q) is query.Phrase and q.fieldname == "content" and q.slop == 1 and len(q.words) > 1:
        return _Phrase(q.fieldname, q.words, boost=q.boost)
    if isinstance(q, query.AndNot):
        return query.And([_fast_phrases(q.a), query.Not(_fast_phrases(q.b))], boost=q.boost)
    return q.apply(_fast_phrases)


class _Phrase(query.Phrase):
    """A phrase matched by intersecting its words' positions directly.

    Whoosh's span machinery costs about three times as much per document; on a
    common phrase (thousands of documents) that is most of a search. Documents
    are scored with BM25 on the phrase's frequency, as if the phrase were a term.
    """

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        field = self.fieldname
        words = list(self.words)
        if any((field, w) not in reader for w in words):
            return matching.NullMatcher()
        postings = [reader.postings(field, w) for w in words]
        ids, freqs = [], []
        while all(m.is_active() for m in postings):
            here = [m.id() for m in postings]
            top = max(here)
            if min(here) != top:
                for m in postings:
                    if m.id() < top:
                        m.skip_to(top)
                continue
            starts = set(postings[0].value_as("positions"))
            for k, m in enumerate(postings[1:], 1):
                starts &= {p - k for p in m.value_as("positions")}
                if not starts:
                    break
            if starts:
                ids.append(top)
                freqs.append(len(starts))
            for m in postings:
                m.next()
        if not ids:
            return matching.NullMatcher()
        count = reader.doc_count() or 1
        idf = math.log(1 + (count - len(ids) + 0.5) / (len(ids) + 0.5))
        average = (reader.field_length(field) / count) or 1
        k1, b = 1.2, 0.75
        weights = [idf * f * (k1 + 1) / (f + k1 * (1 - b + b * reader.doc_field_length(d, field, 1) / average))
                   * self.boost for d, f in zip(ids, freqs)]
        return matching.ListMatcher(ids, weights=weights)


def _preload_wildcards(q: query.Query, reader) -> query.Query:
    """Expand ``CR-2024-*`` on the exact fields into one preloaded union of its terms.

    Whoosh otherwise ORs the hundreds of matching identifiers as a binary tree of
    matchers, which is slower than reading their posting lists once.
    """
    if isinstance(q, query.MultiTerm) and q.field() in _EXACT_FIELDS:
        field = reader.schema[q.field()]
        terms = [query.Term(q.field(), field.from_bytes(b)) for b in sorted(set(q._btexts(reader)))]
        if not terms:
            return query.NullQuery
        if len(terms) == 1:
            return terms[0]
        union = query.Or(terms, boost=q.boost)
        union.matcher_type = query.Or.ARRAY_MATCHER
        return union
    return q.apply(lambda child: _preload_wildcards(child, reader))


def _walk(q: query.Query) -> Iterator[query.Query]:
    yield q
    for child in q.children():
        yield from _walk(child)


MERGE_AT = 16   # segments of one size tier that are merged into one


def _merge_tiers(writer, segments):
    """Merge a commit's segments tier by tier: only when 16 of about the same size have gathered.

    Whoosh's default policy may rewrite every big segment during any small commit
    (a watcher's one-file commit once took 29 s after a 10,000-document ingest).
    Here a segment is only merged with others of its own size tier (powers of
    ten of documents), so a small commit costs what its tier holds.
    """
    from whoosh.reading import SegmentReader
    tiers: dict[int, list] = {}
    for seg in segments:
        tiers.setdefault(len(str(max(1, seg.doc_count_all()))), []).append(seg)
    keep = []
    for tier in tiers.values():
        if len(tier) < MERGE_AT:
            keep += tier
            continue
        for seg in tier:
            reader = SegmentReader(writer.storage, writer.schema, seg)
            writer.add_reader(reader)
            reader.close()
    return keep


class _Writer:
    """Add and remove documents inside :meth:`FulltextIndex.writer`."""

    def __init__(self, w):
        self._w = w

    def add(self, r: IndexRecord) -> None:
        """Add a document or replace it if its id is already indexed."""
        self._w.update_document(
            doc_id=r.doc_id, title=r.title or "", content=r.content or "",
            filename=r.filename or "", author=r.author or "", format=r.format or "",
            ident=_identifiers(r.title, r.filename, r.content),
            date=_naive_utc(r.date), created=_naive_utc(r.created), modified=_naive_utc(r.modified),
            size=r.size, product=",".join(r.products), cr=",".join(r.change_requests))

    def delete(self, doc_id: int) -> None:
        """Remove a document from the index."""
        self._w.delete_by_term("doc_id", doc_id)


# An identifier is letters, then a dash-like separator, then more parts, with a digit somewhere:
# CR-2023-0142, SPEC-104, ECO-1123, DWG-3310. Outside quotes and fields, we search it in the
# exact-match field only, so that 'CR-2023-0142' does not match 'CR-2023-01420' or loose words.
_QUERY_TOKEN = re.compile(r'"[^"]*"|\S+')
_IDENT_QUERY = re.compile(r"^(?=[^:]*[\d*?])[A-Za-z][\w.]*(?:[-\u2010-\u2015\u2212_][\w.*?]+)+$")


def _rewrite_identifiers(text: str) -> str:
    def replace(m: re.Match) -> str:
        token = m.group(0)
        if token.startswith('"'):
            return token
        lead = len(token) - len(token.lstrip("("))
        core = token[lead:].rstrip(")")
        tail = token[lead + len(core):]
        if not _IDENT_QUERY.match(core):
            return token
        core = core.translate(DASHES).lower().rstrip(".")
        if "*" in core or "?" in core:
            return f"{token[:lead]}(ident:{core} OR cr:{core} OR product:{core}){tail}"
        # Also the recognised references: a change request written "CR 2024-0142" in the
        # text is filed under its canonical id, and so is a product under its code.
        return f'{token[:lead]}(ident:"{core}" OR cr:"{core}" OR product:"{core}"){tail}'
    return _QUERY_TOKEN.sub(replace, text)


def _filter(formats, after, before, products, change_requests) -> query.Query | None:
    parts: list[query.Query] = []
    formats = list(formats)
    if formats:
        parts.append(query.Or([query.Term("format", f) for f in formats]))
    if after or before:
        parts.append(query.DateRange("date", _naive_utc(after), _naive_utc(before)))
    for field, values in (("product", products), ("cr", change_requests)):
        values = [v.lower() for v in values]
        if values:
            parts.append(query.Or([query.Term(field, v) for v in values]))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else query.And(parts)


class _Marker(highlight.Formatter):
    """Mark matched words as **word** in plain text."""

    between = " … "

    def format_token(self, text, token, replace=False):
        return "**" + highlight.get_text(text, token, replace) + "**"


def _snippet(hit, words: bool, idents: re.Pattern | None, text_of) -> str:
    text = text_of(hit["doc_id"]) if text_of else ""
    if not text:
        return ""
    snippet = ""
    # Highlighting analyses the text again: do it a window at a time, so that a hit near
    # the start of a long document costs a window, and a deep one is still found.
    for start, end in _windows(len(text)) if words else ():
        snippet = hit.highlights("content", text=text[start:end], top=2)
        if snippet:
            break
    if not snippet:
        snippet = _ident_snippet(text, idents)
    if not snippet:
        snippet = text[:SNIPPET_CHARS]
    return " ".join(snippet.split())


def _windows(length: int) -> Iterator[tuple[int, int]]:
    """Yield overlapping (start, end) windows: a short first one (most hits are early), then longer ones."""
    yield 0, min(length, 1200)
    for start in range(1000, length, SNIPPET_WINDOW):
        yield start, start + SNIPPET_WINDOW + 400


def _ident_pattern(q: query.Query) -> re.Pattern | None:
    """Return one pattern that finds any identifier of the query in a text as written there."""
    words = {t.decode() if isinstance(t, bytes) else str(t) for f, t in q.iter_all_terms() if f == "ident"}
    # Patterns are not terms: 'CR-2024-*' is a Prefix (its text without the star) or a Wildcard.
    words |= {n.text + ("*" if isinstance(n, query.Prefix) else "")
              for n in _walk(q) if isinstance(n, query.PatternQuery) and n.field() == "ident"}
    words = sorted(words, key=len, reverse=True)
    if not words:
        return None
    dash = "[-\u2010-\u2015\u2212]"
    parts = [re.escape(w).replace(r"\-", dash).replace(r"\*", rf"(?:\w|{dash}(?=\w))*").replace(r"\?", r"\w")
             for w in words]
    return re.compile(rf"(?<!\w)(?:{'|'.join(parts)})(?!\w)", re.IGNORECASE)


def _ident_snippet(text: str, idents: re.Pattern | None) -> str:
    m = idents.search(text) if idents else None
    if not m:
        return ""
    start, end = max(0, m.start() - 80), min(len(text), m.end() + 120)
    return (("…" if start else "") + text[start:m.start()] + "**" + m.group(0) + "**"
            + text[m.end():end] + ("…" if end < len(text) else ""))


# -- engine-neutral access: what another engine (indexes/pgsearch.py) needs of Whoosh ------

@lru_cache(maxsize=1)
def _cached_schema() -> fields.Schema:
    return _schema()


def analyse(field: str, text: str) -> list[tuple[str, int]]:
    """Return the (token, position) pairs that the index stores for ``text`` in ``field``."""
    analyzer = getattr(_cached_schema()[field], "analyzer", None)
    if analyzer is None:
        raise ValueError(f"the field {field!r} has no analyzer")
    return [(t.text, t.pos) for t in analyzer(text or "", positions=True, mode="index")]


def analyse_record(r: IndexRecord) -> dict[str, list[tuple[str, int]]]:
    """Return the (token, position) pairs of each text field of a record, as :class:`_Writer` indexes it."""
    texts = {"title": r.title, "content": r.content, "filename": r.filename, "author": r.author,
             "ident": _identifiers(r.title, r.filename, r.content),
             "product": ",".join(r.products), "cr": ",".join(r.change_requests)}
    return {name: analyse(name, text or "") for name, text in texts.items()}


def neutral(text: str) -> tuple:
    """Parse a query like :meth:`FulltextIndex.parse` and return its engine-neutral tree.

    A query tree is made of plain tuples; words are already analysed (stemmed,
    folded, lowercased) as the field indexes them, so they equal indexed tokens:

    - ``("and", [node, ...])``, ``("or", [node, ...])``, ``("not", node)``
    - ``("andnot", a, b)``: a and not b; ``("andmaybe", a, b)``: a (b only ranks)
    - ``("term", field, value)``: value is a token (str), an int (``size``,
      ``doc_id``) or a naive UTC datetime (``date``, ``created``, ``modified``)
    - ``("phrase", field, [word, ...], slop)``: each word 1..slop positions after
      the one before it (slop 1: consecutive, stop words are not counted)
    - ``("prefix", field, text)``; ``("wildcard", field, glob)`` with ``*`` and ``?``
    - ``("range", field, start, end)``: inclusive bounds (datetime or int), None is open
    - ``("termrange", field, start, end, start_excl, end_excl)``: tokens between
      two strings in code point order, None is open
    - ``("every", field)``: documents with any token in the field (None: all)
    - ``("null",)``: no document

    Fields are the schema's: title, content, filename, ident, author, format,
    date, created, modified, size, product, cr, doc_id.
    """
    return _neutral(FulltextIndex.parse(text))


def _neutral(q: query.Query) -> tuple:
    """Translate one Whoosh query node (and its children) into the neutral tree."""
    kind = type(q)
    if isinstance(q, type(query.NullQuery)):
        return ("null",)
    if kind in (query.And, query.Or, query.DisjunctionMax):
        return ("and" if kind is query.And else "or", [_neutral(c) for c in q.subqueries])
    if kind is query.Not:
        return ("not", _neutral(q.query))
    if kind in (query.AndNot, query.AndMaybe, query.Require):
        a, b = _neutral(q.a), _neutral(q.b)
        return ("and", [a, b]) if kind is query.Require else (kind.__name__.lower(), a, b)
    if kind is query.Every:
        return ("every", q.fieldname if q.fieldname not in ("", "*") else None)
    if kind in (query.Term, query.Phrase, query.Prefix, query.Wildcard):
        return _neutral_words(q)
    if kind in (query.NumericRange, query.DateRange, query.TermRange):
        return _neutral_range(q)
    raise QuerySyntaxError(f"cannot understand the query: {kind.__name__} queries are not supported")


def _neutral_words(q: query.Query) -> tuple:
    """Translate a term, phrase, prefix or wildcard query."""
    if isinstance(q, query.Phrase):
        if len(q.words) == 1:
            return ("term", q.fieldname, q.words[0])
        return ("phrase", q.fieldname, list(q.words), q.slop)
    if isinstance(q, query.Term):
        value = q.text
        if isinstance(value, bytes):
            value = _cached_schema()[q.fieldname].from_bytes(value)
        return ("term", q.fieldname, value)
    return ("prefix" if isinstance(q, query.Prefix) else "wildcard", q.fieldname, q.text)


def _neutral_range(q: query.Query) -> tuple:
    """Translate a range: numbers and dates to inclusive bounds, tokens as they are."""
    if type(q) is query.TermRange:
        return ("termrange", q.fieldname, q.start, q.end, q.startexcl, q.endexcl)
    start = None if q.start is None else q.start + (1 if q.startexcl else 0)
    end = None if q.end is None else q.end - (1 if q.endexcl else 0)
    if isinstance(_cached_schema()[q.fieldname], fields.DATETIME):
        # Whoosh keeps dates as microseconds since year 1: one unit is one microsecond.
        start = None if start is None else long_to_datetime(start)
        end = None if end is None else long_to_datetime(end)
    return ("range", q.fieldname, start, end)


def _positive_leaves(tree: tuple) -> Iterator[tuple]:
    """Yield the leaves of a tree that a match contains (not those under a NOT)."""
    kind = tree[0]
    if kind in ("and", "or"):
        for child in tree[1]:
            yield from _positive_leaves(child)
    elif kind in ("andnot", "andmaybe"):
        yield from _positive_leaves(tree[1])
        if kind == "andmaybe":
            yield from _positive_leaves(tree[2])
    elif kind not in ("not", "null", "every"):
        yield tree


def snippet(text: str, tree: tuple, limit_chars: int = SNIPPET_CHARS) -> str:
    """Return a snippet of ``text`` with the words of a neutral query tree marked as **word**."""
    if not text:
        return ""
    leaves = list(_positive_leaves(tree))
    found = _words_snippet(text, [leaf for leaf in leaves if leaf[1] == "content"], limit_chars)
    if not found:
        found = _ident_snippet(text, _ident_pattern(_ident_query(leaves)))
    if not found:
        found = text[:limit_chars]
    return " ".join(found.split())


def _words_snippet(text: str, leaves: list[tuple], limit_chars: int) -> str:
    """Highlight the words of content leaves in the first window of ``text`` that has any."""
    words = {leaf[2] for leaf in leaves if leaf[0] == "term"}
    words |= {w for leaf in leaves if leaf[0] == "phrase" for w in leaf[2]}
    globs = [leaf[2] + "*" if leaf[0] == "prefix" else leaf[2] for leaf in leaves
             if leaf[0] in ("prefix", "wildcard")]
    pattern = re.compile("|".join(fnmatch.translate(g) for g in globs)) if globs else None
    if not words and not pattern:
        return ""
    analyzer = _cached_schema()["content"].analyzer
    fragmenter = highlight.ContextFragmenter(maxchars=limit_chars, surround=80, charlimit=None)
    for start, end in _windows(len(text)):
        window = text[start:end]
        terms = set(words)
        if pattern:
            terms |= {token for token, _ in analyse("content", window) if pattern.match(token)}
        found = highlight.highlight(window, terms, analyzer, fragmenter, _Marker(), top=2, mode="index")
        if found:
            return found
    return ""


def _ident_query(leaves: list[tuple]) -> query.Query:
    """Rebuild the identifier leaves as a Whoosh query, to find them in a text with :func:`_ident_pattern`."""
    parts: list[query.Query] = [query.NullQuery]
    for leaf in leaves:
        if leaf[1] != "ident":
            continue
        if leaf[0] == "term":
            parts.append(query.Term("ident", leaf[2]))
        elif leaf[0] == "phrase":
            parts.extend(query.Term("ident", w) for w in leaf[2])
        elif leaf[0] in ("prefix", "wildcard"):
            parts.append((query.Prefix if leaf[0] == "prefix" else query.Wildcard)("ident", leaf[2]))
    return query.Or(parts)
