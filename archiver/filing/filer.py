"""File an archive's documents: read their metadata from the catalog, lay out, plan, apply and explain."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from archiver.catalog import Catalog, now
from archiver.config import Config
from archiver.errors import ConfigError
from archiver.filing import names
from archiver.filing import rules as rules_module
from archiver.filing.layout import layout
from archiver.filing.rules import Verdict, choose
from archiver.filing.templates import DocMeta
from archiver.filing.tree import Action, Filed, Original, Problem, Tree
from archiver.store import OriginalStore

_INSIDE_ARCHIVE = ("originals", "index", "catalog.sqlite", "archive.toml")


@dataclass(frozen=True)
class FilingReport:
    """What one run of filing did (or, for a dry run, would do) and what it left alone."""

    root: str
    mode: str
    dry_run: bool
    actions: tuple[Action, ...]
    hand_placed: tuple[Problem, ...]   # files archiver did not place, or that were changed since
    blocked: tuple[Problem, ...]       # entries that could not be made: something else is in the way
    errors: tuple[Problem, ...]        # steps that failed (the rest of the run went on)
    documents: int
    entries: int
    unchanged: int

    def summary(self) -> dict[str, int]:
        """Return the counts of the run."""
        counts = {kind: sum(1 for a in self.actions if a.action == kind)
                  for kind in ("add", "move", "replace", "remove")}
        return {"documents": self.documents, "entries": self.entries, "unchanged": self.unchanged, **counts,
                "hand_placed": len(self.hand_placed), "blocked": len(self.blocked), "errors": len(self.errors)}


@dataclass(frozen=True)
class Explanation:
    """Why a document is filed where it is: every rule's verdict, and the resulting paths."""

    doc_id: int
    title: str
    rule: str
    rules: tuple[Verdict, ...]
    paths: tuple[str, ...]      # where the rules put it now
    filed: tuple[str, ...]      # where it is filed in the tree (differs until `archiver file` runs)


def filed_root(config: Config) -> Path:
    """Return the folder of the filed tree; refuse one that is or holds the archive's own files."""
    value = config["filing.root"]
    root = (Path(value) if Path(value).is_absolute() else config.root / value).absolute()
    archive, resolved = config.root.resolve(), root.resolve()
    if archive.is_relative_to(resolved) or any(resolved.is_relative_to(archive / p) for p in _INSIDE_ARCHIVE):
        raise ConfigError(f"archive.toml: filing.root: {value!r} must not be the archive folder, hold it, "
                          "or lie inside originals/ or index/")
    return root


class Filer:
    """Files the documents of one archive by its rules (see README, Filing)."""

    def __init__(self, catalog: Catalog, store: OriginalStore, config: Config):
        self.catalog = catalog
        self.store = store
        self.mode = config["filing.mode"]
        self.root = filed_root(config)
        try:
            self.rules = rules_module.parse_rules(config["filing.rules"], config["filing.default"])
        except ValueError as exc:
            raise ConfigError(f"archive.toml: filing.rules: {exc}") from exc
        self._originals: dict[int, Original] = {}
        self._text = functools.lru_cache(maxsize=256)(catalog.text)

    def run(self, dry_run: bool = False, only: Iterable[int] | None = None) -> FilingReport:
        """Bring the filed tree in line with the rules; ``dry_run`` only plans.

        ``only`` limits the changes to these documents (and those in their way),
        as ingest does for the documents it just took in; the whole tree is then
        not scanned for hand-placed files.
        """
        entries = self.catalog.filed_entries()
        metas = self.metas(None if only is None else self._concerned(set(only), entries))
        desired = layout(metas, self.rules, self._text)
        current = {path: Filed(*row) for path, row in entries.items()}
        tree = Tree(self.root, self.mode, self._original)
        plan = tree.plan(desired, current, only=None if only is None else set(only), scan=only is None)
        actions, errors = (plan.actions, []) if dry_run else tree.apply(plan, _Journal(self.catalog, self))
        return FilingReport(str(self.root), self.mode, dry_run, tuple(actions), tuple(plan.hand_placed),
                            tuple(plan.blocked), tuple(errors), len(metas), len(desired), plan.unchanged)

    def explain(self, doc_id: int) -> Explanation:
        """Return every rule's verdict on one document and the paths it files to."""
        metas = self.metas()
        meta = next(m for m in metas if m.doc_id == doc_id)
        verdicts = rules_module.explain(self.rules, meta, self._text)
        desired = layout(metas, self.rules, self._text)
        used = next(v.name for v in verdicts if v.used)
        title = meta.title or meta.filename or f"document {doc_id}"
        return Explanation(doc_id, title, used, tuple(verdicts),
                           tuple(p for p, w in desired.items() if w.doc_id == doc_id),
                           tuple(self.catalog.filed_paths_of(doc_id)))

    def _concerned(self, only: set[int], entries: dict) -> list[int]:
        """Return the documents a partial run must lay out: these, and those filed where they would go.

        Laying out the whole archive for each ingest batch would cost time in
        proportion to the archive; who keeps a contested name only depends on
        the documents that want it.
        """
        wanted = {names.key(path) for meta in self.metas(sorted(only))
                  for path in choose(self.rules, meta, self._text).paths(meta)}
        others = {doc_id for path, (doc_id, _, _) in entries.items() if names.key(path) in wanted}
        return sorted(only | others)

    def metas(self, ids: list[int] | None = None) -> list[DocMeta]:
        """Return what templates and rules may use of every document (or of ``ids``), in id order."""
        ids = self.catalog.filing_doc_ids() if ids is None else ids
        senders = self.catalog.filing_senders()
        product_names = {p.code: p.name for p in self.catalog.products()}
        found = []
        for d, products, crs in self.catalog.documents_with_refs(ids):
            self._originals[d.id] = Original(self.store.path_for(d.sha256), d.sha256, d.size)
            found.append(DocMeta(
                doc_id=d.id, sha256=d.sha256, format=d.format, mime=d.mime, title=d.title,
                author=d.author, sender=senders.get(d.id), date=_date(d.date), filename=d.filename,
                doc_number=d.doc_number, revision=d.revision, products=tuple(products),
                product_names=tuple(product_names.get(p, "") for p in products), crs=tuple(crs)))
        return found

    def _original(self, doc_id: int) -> Original:
        if doc_id not in self._originals:
            d = self.catalog.document(doc_id)
            self._originals[doc_id] = Original(self.store.path_for(d.sha256), d.sha256, d.size)
        return self._originals[doc_id]

    def sha256(self, doc_id: int) -> str:
        """Return the SHA-256 of a document's original."""
        return self._original(doc_id).sha256


class _Journal:
    """Records each step of a run in the catalog: the `filed` row and its audit event, one transaction each."""

    def __init__(self, catalog: Catalog, filer: Filer):
        self.catalog = catalog
        self.filer = filer

    @contextmanager
    def removed(self, action: Action, path: str) -> Iterator[None]:
        with self.catalog.transaction():
            row = self.catalog.unfile(path)
            yield
            detail = {"to": action.path} if action.action == "move" else {}
            self.catalog.audit("file.remove", action.doc_id, self.filer.sha256(action.doc_id), path=path,
                               rule=row[1] if row else action.rule, because=action.action, **detail)

    @contextmanager
    def added(self, action: Action) -> Iterator[dict]:
        note: dict = {}
        with self.catalog.transaction():
            self.catalog.put_filed(action.path, action.doc_id, action.rule, self.filer.mode, now())
            yield note
            detail = {"from": action.source} if action.source else {}
            self.catalog.audit("file.add", action.doc_id, self.filer.sha256(action.doc_id), path=action.path,
                               rule=action.rule, mode=self.filer.mode, method=note.get("method"),
                               because=action.action, **detail)

    def retag(self, pairs: list[tuple[str, str]]) -> None:
        if pairs:
            with self.catalog.transaction():
                for path, rule in pairs:
                    self.catalog.retag_filed(path, rule)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
