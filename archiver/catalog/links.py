"""Hold the catalog's SQL for products, references, change-request steps and graph records."""
from __future__ import annotations

import json
import re
from typing import Iterable, Iterator

from archiver.refs import Fields, Product, Reference

# How a reference's kind is named in a graph node id ("product:P-1", "cr:CR-7", "docnum:SPEC-9").
NODE_PREFIX = {"product": "product", "change_request": "cr", "doc_number": "docnum"}


def ref_links(doc_id: int, refs: list[Reference]) -> list[tuple[str, str, int]]:
    """Return the links table rows (node, other, step) of a document's references, both ways.

    A document's own number with a revision also joins it to ``rev:NUMBER``: the
    step into that node is 0 and out of it 1, so all revisions of a number are one
    link apart (as their ``supersedes`` edges make them) without a row per pair.
    """
    me, rows = f"doc:{doc_id}", []
    for kind, value in dict.fromkeys((r.kind, r.value) for r in refs):
        other = f"{NODE_PREFIX[kind]}:{value}"
        rows += [(me, other, 1), (other, me, 1)]
    own = next((r for r in refs if r.role == "is"), None)
    if own and own.revision:
        rows += [(me, f"rev:{own.value}", 0), (f"rev:{own.value}", me, 1)]
    return rows


def mail_links(doc_id: int, message_id: str | None, in_reply_to: str | None) -> list[tuple[str, str, int]]:
    """Return the links table rows that join an e-mail to the messages it answers and the answers to it.

    ``msg:ID`` leads to the message with that Message-ID and ``reply:ID`` to the
    messages answering it; both are entered at step 0, so a reply and its message
    are one link apart, and two answers to one message are not linked to each other.
    """
    me, rows = f"doc:{doc_id}", []
    if message_id and message_id.strip():
        mid = message_id.strip()
        rows += [(f"msg:{mid}", me, 1), (me, f"reply:{mid}", 0)]
    for ref in dict.fromkeys(re.findall(r"<[^>]+>", in_reply_to or "") or [(in_reply_to or "").strip()]):
        if ref:
            rows += [(me, f"msg:{ref}", 0), (f"reply:{ref}", me, 1)]
    return rows


class LinksMixin:
    """Products, references and lifecycle steps of :class:`archiver.catalog.Catalog`."""

    db = None  # the sqlite3 connection, set by Catalog

    # -- products -----------------------------------------------------------

    def upsert_products(self, products: Iterable[Product], at: str) -> tuple[int, int]:
        """Add or update products; return (added, changed). Call inside a transaction."""
        added = changed = 0
        for p in products:
            row = self.db.execute("SELECT name, aliases FROM products WHERE code=?", (p.code,)).fetchone()
            aliases = json.dumps(list(p.aliases))
            if row is None:
                added += 1
            elif (row[0], row[1]) != (p.name, aliases):
                changed += 1
            else:
                continue
            self.db.execute(
                "INSERT INTO products VALUES (?,?,?,?) ON CONFLICT(code) DO UPDATE SET name=excluded.name, "
                "aliases=excluded.aliases, updated_at=excluded.updated_at", (p.code, p.name, aliases, at))
        return added, changed

    def products(self) -> list[Product]:
        """Return the product registry, by code."""
        return [Product(code, name, tuple(json.loads(aliases)))
                for code, name, aliases in self.db.execute("SELECT code, name, aliases FROM products ORDER BY code")]

    def product_document_counts(self) -> dict[str, int]:
        """Return how many documents mention each product."""
        return dict(self.db.execute(
            "SELECT value, COUNT(DISTINCT doc_id) FROM refs WHERE kind='product' GROUP BY value"))

    # -- references ---------------------------------------------------------

    def unlinked(self) -> list[int]:
        """Return ids of readable documents whose references are not yet found."""
        return [r[0] for r in self.db.execute(
            "SELECT id FROM documents WHERE linked=0 AND state NOT IN ('rejected', 'queued') ORDER BY id")]

    def mark_all_unlinked(self) -> None:
        """Ask for every document's references to be found again (after a registry change)."""
        self.db.execute("UPDATE documents SET linked=0")

    def link_fields(self, doc_id: int) -> Fields:
        """Return the texts of a document that references are found in."""
        title, filename, subject, keywords, fmt = self.db.execute(
            "SELECT title, filename, subject, keywords, format FROM documents WHERE id=?", (doc_id,)).fetchone()
        pages = tuple(r[0] for r in self.db.execute(
            "SELECT text FROM pages WHERE doc_id=? ORDER BY number", (doc_id,)))
        return Fields(title or "", filename or "", subject or "", keywords or "", pages, fmt != "email")

    def replace_refs(self, doc_id: int, refs: list[Reference]) -> None:
        """Store a document's references (replacing older ones) and its own number; needs re-indexing."""
        self.db.execute("DELETE FROM refs WHERE doc_id=?", (doc_id,))
        self.db.executemany(
            "INSERT INTO refs (doc_id, kind, value, role, revision, evidence, location, position, context) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [(doc_id, r.kind, r.value, r.role, r.revision, r.evidence, r.where, r.offset, r.context) for r in refs])
        own = next((r for r in refs if r.role == "is"), None)
        self.db.execute("UPDATE documents SET doc_number=?, revision=?, linked=1, indexed_gen=NULL WHERE id=?",
                        (own.value if own else None, own.revision if own else None, doc_id))
        self.replace_links(f"refs:{doc_id}", ref_links(doc_id, refs))

    def replace_links(self, origin: str, rows: list[tuple[str, str, int]]) -> None:
        """Store the links table rows (node, other, step) one fact gives, replacing what it gave before."""
        self.db.execute("DELETE FROM links WHERE origin=?", (origin,))
        self.db.executemany("INSERT INTO links (node, other, step, origin) VALUES (?,?,?,?)",
                            [(*row, origin) for row in rows])

    def within(self, start: str, depth: int) -> dict[str, int]:
        """Return the graph nodes within ``depth`` links of a node, each with its distance, in one query.

        A recursive query over the links table: only this bounded neighbourhood is
        read, never the whole graph. The helper nodes that the links table uses to
        join revisions and e-mails (``rev:``, ``msg:``, ``reply:``) are left out.
        """
        rows = self.db.execute(
            """WITH RECURSIVE reach(node, depth) AS (
                   SELECT CAST(? AS TEXT), CAST(0 AS BIGINT)
                   UNION
                   SELECT l.other, r.depth + l.step FROM reach r JOIN links l ON l.node = r.node
                   WHERE r.depth < ?)
               SELECT node, MIN(depth) FROM reach GROUP BY node""", (start, depth))
        return {node: d for node, d in rows if not node.startswith(("rev:", "msg:", "reply:"))}

    def refs_of(self, doc_id: int) -> list[Reference]:
        """Return a document's references in the order they were found."""
        rows = self.db.execute(
            "SELECT kind, value, role, evidence, location, position, context, revision FROM refs "
            "WHERE doc_id=? ORDER BY id", (doc_id,))
        return [Reference(*r) for r in rows]

    def values_of(self, doc_ids: Iterable[int], kind: str) -> dict[int, list[str]]:
        """Return, per document, the distinct values of one kind of reference."""
        ids = list(doc_ids)
        found: dict[int, list[str]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for doc_id, value in self.db.execute(
                    f"SELECT DISTINCT doc_id, value FROM refs WHERE kind=? AND doc_id IN ({marks}) "
                    "ORDER BY doc_id, value", [kind, *chunk]):
                found[doc_id].append(value)
        return found

    def docs_referring(self, kind: str, value: str) -> list[int]:
        """Return ids of documents that refer to one product, change request or document number."""
        rows = self.db.execute("SELECT DISTINCT doc_id FROM refs WHERE kind=? AND value=? ORDER BY doc_id",
                               (kind, value))
        ids = [r[0] for r in rows]
        if kind == "doc_number":
            ids += [r[0] for r in self.db.execute("SELECT id FROM documents WHERE doc_number=?", (value,))
                    if r[0] not in ids]
        return sorted(ids)

    def known_values(self, kind: str) -> list[tuple[str, int]]:
        """Return (value, number of documents) for every value of one kind of reference."""
        return [tuple(r) for r in self.db.execute(
            "SELECT value, COUNT(DISTINCT doc_id) FROM refs WHERE kind=? GROUP BY value ORDER BY value", (kind,))]

    def revisions_of(self, number: str) -> list[tuple[int, str | None, str | None]]:
        """Return (doc_id, revision, date) of every document that is a revision of a number."""
        return [tuple(r) for r in self.db.execute(
            "SELECT id, revision, date FROM documents WHERE doc_number=? ORDER BY id", (number,))]

    # -- change request lifecycle ------------------------------------------

    def replace_cr_steps(self, cr: str, doc_ids: Iterable[int],
                         steps: Iterable[tuple[str, str | None, int, str]]) -> None:
        """Store the lifecycle steps (step, date, doc_id, evidence) some papers show for one CR, replacing theirs."""
        ids = list(doc_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            self.db.execute(f"DELETE FROM cr_steps WHERE cr=? AND doc_id IN ({','.join('?' * len(chunk))})",
                            (cr, *chunk))
        self.db.executemany("INSERT INTO cr_steps VALUES (?,?,?,?,?)", [(cr, *s) for s in steps])

    def replace_cr_products(self, cr: str, rows: Iterable[tuple[str, int, str]]) -> None:
        """Store the products (product, doc_id, evidence) a change request affects."""
        rows = list(rows)
        self.db.execute("DELETE FROM cr_products WHERE cr=?", (cr,))
        self.db.executemany("INSERT OR IGNORE INTO cr_products VALUES (?,?,?,?)", [(cr, *r) for r in rows])
        products = dict.fromkeys(f"product:{product}" for product, _, _ in rows)
        self.replace_links(f"crp:{cr}", [link for p in products for link in ((f"cr:{cr}", p, 1), (p, f"cr:{cr}", 1))])

    def cr_products(self, cr: str) -> list[tuple[str, int, str]]:
        """Return (product, doc_id, evidence) of the products a change request affects."""
        return [tuple(r) for r in self.db.execute(
            "SELECT product, doc_id, evidence FROM cr_products WHERE cr=? ORDER BY product", (cr,))]

    def crs_affecting(self, product: str) -> list[tuple[str, int, str]]:
        """Return (cr, doc_id, evidence) of the change requests that affect a product."""
        return [tuple(r) for r in self.db.execute(
            "SELECT cr, doc_id, evidence FROM cr_products WHERE product=? ORDER BY cr", (product,))]

    def refs_of_docs(self, doc_ids: Iterable[int]) -> list[tuple]:
        """Return (doc_id, kind, value, role, revision, evidence, location) of several documents' references."""
        return self._chunked("SELECT doc_id, kind, value, role, revision, evidence, location FROM refs "
                             "WHERE doc_id IN ({marks}) ORDER BY id", doc_ids)

    def _chunked(self, sql: str, ids: Iterable[int]) -> list[tuple]:
        """Run a query whose ``{marks}`` take a list of ids, 500 at a time; return all rows."""
        ids, rows = list(ids), []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows += [tuple(r) for r in self.db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)]
        return rows

    def documents_with_refs(self, doc_ids: Iterable[int]) -> Iterator[tuple]:
        """Yield (Document, product codes, change request ids) of documents, 500 at a time, in the order given."""
        ids = list(doc_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            docs = self.documents(chunk)
            products = self.values_of(chunk, "product")
            crs = self.values_of(chunk, "change_request")
            for doc_id in chunk:
                yield docs[doc_id], products[doc_id], crs[doc_id]

    def refs_to(self, kind: str, value: str) -> list[tuple]:
        """Return (doc_id, kind, value, role, revision, evidence, location) of the references to one thing.

        One row per document and role: its first mention (a hub product is named
        tens of thousands of times; its neighbours are the documents, not the mentions).
        """
        return [tuple(r) for r in self.db.execute(
            "SELECT doc_id, kind, value, role, revision, evidence, location FROM refs WHERE id IN "
            "(SELECT MIN(id) FROM refs WHERE kind=? AND value=? GROUP BY doc_id, role) ORDER BY id", (kind, value))]

    def graph_documents_of(self, doc_ids: Iterable[int], messages: bool = True) -> list[tuple]:
        """Return the graph_documents() rows of some documents (without the e-mail ids: None there)."""
        mail = ("json_extract(metadata, '$.message_id'), json_extract(metadata, '$.in_reply_to')"
                if messages else "NULL, NULL")
        return self._chunked(f"""SELECT id, title, filename, format, date, sha256, doc_number, revision, {mail}
                    FROM documents WHERE state != 'rejected' AND id IN ({{marks}}) ORDER BY id""", doc_ids)

    def messages_by_id(self, message_ids: Iterable[str]) -> dict[str, int]:
        """Return the documents that are the e-mails with these Message-IDs."""
        found = {}
        for mid in message_ids:
            row = self.db.execute("SELECT id FROM documents WHERE json_extract(metadata, '$.message_id') = ?",
                                  (mid,)).fetchone()
            if row:
                found[mid] = row[0]
        return found

    def replies_to_messages(self, message_ids: list[str]) -> list[int]:
        """Return the documents whose In-Reply-To names any of these Message-IDs (their ``reply:`` links)."""
        rows = self._chunked("SELECT DISTINCT other FROM links WHERE node IN ({marks})",
                             [f"reply:{mid}" for mid in message_ids])
        return sorted({int(other[4:]) for other, in rows})

    def attachment_links_of(self, doc_ids: Iterable[int]) -> list[tuple[int, int, str]]:
        """Return (message_id, doc_id, name) of the attachments that involve these documents either way."""
        return self._either_way("SELECT message_id, doc_id, name FROM attachments "
                                "WHERE message_id IN ({marks}) OR doc_id IN ({marks})", doc_ids)

    def versions_of(self, doc_ids: Iterable[int]) -> list[tuple[int, int, str]]:
        """Return (doc_id, previous_id, path) of the version links that involve these documents."""
        return self._either_way("SELECT doc_id, previous_id, path FROM versions "
                                "WHERE doc_id IN ({marks}) OR previous_id IN ({marks})", doc_ids)

    def _either_way(self, sql: str, doc_ids: Iterable[int]) -> list[tuple]:
        """Run a query whose two ``{marks}`` take the same ids, 500 at a time; each row once, in order."""
        ids, rows = list(doc_ids), {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for r in self.db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk + chunk):
                rows.setdefault(tuple(r), None)
        return list(rows)

    def cr_steps(self, cr: str) -> list[tuple[str, str | None, int, str]]:
        """Return (step, date, doc_id, evidence) of a change request, in date order."""
        return [tuple(r) for r in self.db.execute(
            "SELECT step, date, doc_id, evidence FROM cr_steps WHERE cr=? ORDER BY date IS NULL, date, doc_id, rowid",
            (cr,))]

    # -- graph --------------------------------------------------------------

    def graph_key(self) -> str:
        """Return a value that changes whenever anything the graph is built from changes."""
        parts = [self.db.execute(sql).fetchone() for sql in (
            "SELECT COUNT(*), MAX(id) FROM refs", "SELECT COUNT(*), MAX(id), SUM(linked) FROM documents",
            "SELECT COUNT(*) FROM attachments", "SELECT COUNT(*), MAX(updated_at) FROM products",
            "SELECT COUNT(*), MAX(rowid) FROM cr_steps", "SELECT COUNT(*) FROM versions")]
        return json.dumps([list(p) for p in parts])

    def graph_documents(self) -> list[tuple]:
        """Return (id, title, filename, format, date, sha256, doc_number, revision, message_id, in_reply_to)."""
        return [tuple(r) for r in self.db.execute(
            """SELECT id, title, filename, format, date, sha256, doc_number, revision,
                      json_extract(metadata, '$.message_id'), json_extract(metadata, '$.in_reply_to')
               FROM documents WHERE state != 'rejected' ORDER BY id""")]

    def graph_refs(self) -> list[tuple]:
        """Return (doc_id, kind, value, role, revision, evidence, location) of every reference."""
        return [tuple(r) for r in self.db.execute(
            "SELECT doc_id, kind, value, role, revision, evidence, location FROM refs ORDER BY id")]

    def all_attachments(self) -> list[tuple[int, int, str]]:
        """Return (message_id, doc_id, name) of every attachment."""
        return [tuple(r) for r in self.db.execute(
            "SELECT message_id, doc_id, name FROM attachments ORDER BY message_id, position")]
