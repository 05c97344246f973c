"""Plan and apply the changes that bring the filed tree on disk in line with the desired layout.

The tree is derived: archiver knows every entry it placed from the catalog's
`filed` table and only ever removes such an entry when the file on disk is
still the one it placed (the same inode as the original, a symlink to it, or
the same content). Anything else in the tree was put there by a person: it is
reported and left alone. Originals are never written: entries are hard links,
read-only copies or symlinks made from them.

A plan is computed from the catalog and the disk without changing either, so
``archiver file --dry-run`` shows exactly the actions a real run then takes.
A run applies it in two phases: first every entry that goes away is removed
(moves and replacements included), then every new entry is made; each step is
one catalog transaction with its audit event, with the file change inside it.
"""
from __future__ import annotations

import errno
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from archiver.filing.layout import Want
from archiver.store import sha256_file

TMP_PREFIX = ".archiver-tmp-"
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


@dataclass(frozen=True)
class Original:
    """Where a document's original is, and what it is."""

    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class Filed:
    """An entry archiver placed (a row of the `filed` table)."""

    doc_id: int
    rule: str
    mode: str


@dataclass(frozen=True)
class Action:
    """One change to the filed tree: add, move (from ``source``), replace (re-make in place) or remove."""

    action: str
    path: str
    doc_id: int
    rule: str
    source: str | None = None


@dataclass(frozen=True)
class Problem:
    """A path archiver leaves alone, and why (a hand-placed file, a blocked entry, a failed step)."""

    path: str
    reason: str
    doc_id: int | None = None


@dataclass
class Plan:
    """Everything one run would do and report."""

    actions: list[Action] = field(default_factory=list)
    hand_placed: list[Problem] = field(default_factory=list)
    blocked: list[Problem] = field(default_factory=list)
    retag: list[tuple[str, str]] = field(default_factory=list)     # (path, rule): rule renamed, file stays
    unchanged: int = 0


class Tree:
    """The filed tree under ``root``, made in one mode from the originals."""

    def __init__(self, root: Path, mode: str, original: Callable[[int], Original]):
        self.root = Path(root)
        self.mode = mode
        self.original = original

    # -- planning -----------------------------------------------------------

    def plan(self, desired: dict[str, Want], current: dict[str, Filed], only: set[int] | None = None,
             scan: bool = True) -> Plan:
        """Return the actions that make the tree ``desired``; ``only`` limits them to some documents.

        ``scan`` walks the whole tree to report files archiver did not place.
        """
        plan = Plan()
        want_by_doc: dict[int, dict[str, str]] = {}
        for path, want in desired.items():
            want_by_doc.setdefault(want.doc_id, {})[path] = want.rule
        have_by_doc: dict[int, dict[str, Filed]] = {}
        for path, filed in current.items():
            have_by_doc.setdefault(filed.doc_id, {})[path] = filed
        docs = set(want_by_doc) | set(have_by_doc)
        if only is not None:
            docs = _closure(set(only) & docs, want_by_doc, current)
        for doc_id in sorted(docs):
            self._plan_doc(plan, doc_id, want_by_doc.get(doc_id, {}), have_by_doc.get(doc_id, {}))
        self._check_targets(plan, current)
        if scan:
            self._scan(plan, current)
        plan.actions.sort(key=lambda a: (a.path, a.action))
        plan.hand_placed.sort(key=lambda p: p.path)
        return plan

    def _plan_doc(self, plan: Plan, doc_id: int, want: dict[str, str], have: dict[str, Filed]) -> None:
        for path in sorted(want.keys() & have.keys()):
            state = self.state(path, doc_id, deep=have[path].mode != self.mode)
            if state == "missing":
                plan.actions.append(Action("add", path, doc_id, want[path]))
            elif state == "changed":
                plan.hand_placed.append(Problem(path, "changed since archiver placed it", doc_id))
            elif have[path].mode != self.mode:
                plan.actions.append(Action("replace", path, doc_id, want[path]))
            else:
                plan.unchanged += 1
                if have[path].rule != want[path]:
                    plan.retag.append((path, want[path]))
        stale = []
        for path in sorted(have.keys() - want.keys()):
            if self.state(path, doc_id, deep=True) == "changed":
                plan.hand_placed.append(Problem(path, "changed since archiver placed it", doc_id))
            else:
                stale.append(path)
        new = sorted(want.keys() - have.keys())
        for target, source in zip(new, stale):
            plan.actions.append(Action("move", target, doc_id, want[target], source))
        plan.actions += [Action("add", p, doc_id, want[p]) for p in new[len(stale):]]
        plan.actions += [Action("remove", p, doc_id, have[p].rule) for p in stale[len(new):]]

    def _check_targets(self, plan: Plan, current: dict[str, Filed]) -> None:
        freed = {_freed(a) for a in plan.actions} - {None}
        checked = []
        for action in plan.actions:
            why = None if action.action in ("remove", "replace") else self._blocker(action, current, freed)
            if why is None:
                checked.append(action)
                continue
            # A blocked move keeps the old entry: the document stays findable in the tree.
            plan.blocked.append(Problem(action.path, why, action.doc_id))
        plan.actions = checked

    def _blocker(self, action: Action, current: dict[str, Filed], freed: set[str]) -> str | None:
        """Return why an entry cannot be made at its path, or None when it can."""
        owner = current.get(action.path)
        if owner is not None and owner.doc_id != action.doc_id and action.path not in freed:
            return f"in the way: the entry of document {owner.doc_id}, changed by hand"
        parts = action.path.split("/")
        for i in range(1, len(parts)):
            folder = self.root.joinpath(*parts[:i])
            if os.path.islink(folder) or (os.path.lexists(folder) and not folder.is_dir()):
                return f"in the way: {'/'.join(parts[:i])} is not a folder archiver can use"
        target = self.root / action.path
        if action.path not in current and os.path.lexists(target) and not self.identical(target, action.doc_id):
            return "in the way: a file archiver did not place"
        return None

    def _scan(self, plan: Plan, current: dict[str, Filed]) -> None:
        if not self.root.is_dir():
            return
        adopted = {a.path for a in plan.actions if a.action != "remove"}
        for folder, dirs, files in os.walk(self.root):
            here = Path(folder)
            entries = files + [d for d in dirs if (here / d).is_symlink()]
            for name in entries:
                rel = (here / name).relative_to(self.root).as_posix()
                if rel not in current and rel not in adopted and not name.startswith(TMP_PREFIX):
                    plan.hand_placed.append(Problem(rel, "not placed by archiver"))

    def state(self, path: str, doc_id: int, deep: bool) -> str:
        """Return "missing", "ours" (the entry archiver placed) or "changed" for a path of the tree."""
        target = self.root / path
        if not os.path.lexists(target):
            return "missing"
        return "ours" if self.identical(target, doc_id, deep) else "changed"

    def identical(self, target: Path, doc_id: int, deep: bool = True) -> bool:
        """Tell whether ``target`` is the document's original: a link to it or a copy of it."""
        original = self.original(doc_id)
        if target.is_symlink():
            return os.path.realpath(target) == os.path.realpath(original.path)
        if not target.is_file():
            return False
        try:
            if os.path.samefile(target, original.path):
                return True
        except OSError:
            pass
        if target.stat().st_size != original.size:
            return False
        return not deep or sha256_file(target)[0] == original.sha256

    # -- applying -----------------------------------------------------------

    def apply(self, plan: Plan, journal) -> tuple[list[Action], list[Problem]]:
        """Carry out a plan; return the actions done and the steps that failed (with why).

        ``journal`` records each step: ``journal.removed(action, path)`` and
        ``journal.added(action)`` (which yields a dict for the ``method`` used)
        are context managers, one catalog transaction each, inside which the
        file change happens; ``journal.retag(pairs)`` renames rules of entries.
        """
        failed: dict[Action, str] = {}
        for action in plan.actions:
            path = _freed(action)
            if path is not None:
                self._step(failed, action, lambda a=action, p=path: self._remove(journal, a, p))
        for action in plan.actions:
            if action.action != "remove" and action not in failed:
                self._step(failed, action, lambda a=action: self._make(journal, a))
        journal.retag(plan.retag)
        errors = [Problem(a.path, why, a.doc_id) for a, why in failed.items()]
        return [a for a in plan.actions if a not in failed], errors

    @staticmethod
    def _step(failed: dict, action: Action, step: Callable[[], None]) -> None:
        try:
            step()
        except OSError as exc:
            failed[action] = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")

    def _remove(self, journal, action: Action, path: str) -> None:
        target = self.root / path
        with journal.removed(action, path):
            if os.path.lexists(target):
                target.unlink()
        self._prune(target.parent)

    def _prune(self, folder: Path) -> None:
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def _make(self, journal, action: Action) -> None:
        target = self.root / action.path
        original = self.original(action.doc_id)
        with journal.added(action) as note:
            if os.path.lexists(target) and self.identical(target, action.doc_id):
                note["method"] = "adopted"
                return
            target.parent.mkdir(parents=True, exist_ok=True)
            root = os.path.realpath(self.root)
            if os.path.commonpath([root, os.path.realpath(target.parent)]) != root:
                raise OSError(errno.EXDEV, "the folder leads outside the filed tree", action.path)
            note["method"] = _make(original.path, target, self.mode)


def _make(original: Path, target: Path, mode: str) -> str:
    """Make ``target`` from the original by ``mode``; return the method used (hard links may copy)."""
    if mode == "symlink":
        os.symlink(os.path.relpath(original, target.parent), target)
        return "symlink"
    if mode == "hardlink":
        try:
            os.link(original, target)
            return "hardlink"
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
    tmp = target.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}"
    try:
        shutil.copy2(original, tmp)
        os.chmod(tmp, 0o444)
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "already exists", str(target))
        os.replace(tmp, target)
    finally:
        if os.path.lexists(tmp):
            tmp.unlink()
    return "copy"


def _freed(action: Action) -> str | None:
    """Return the path an action takes away (before new entries are made), if any."""
    return {"move": action.source, "remove": action.path, "replace": action.path}.get(action.action)


def _closure(docs: set[int], want_by_doc: dict[int, dict[str, str]], current: dict[str, Filed]) -> set[int]:
    """Add the documents whose entries are in the way of the given ones' new paths, transitively."""
    todo = list(docs)
    while todo:
        for path in want_by_doc.get(todo.pop(), {}):
            other = current.get(path)
            if other is not None and other.doc_id not in docs:
                docs.add(other.doc_id)
                todo.append(other.doc_id)
    return docs
