"""Decide where every document belongs: its rule's paths, with collisions given stable suffixes.

When several documents render to the same path (compared as a case-insensitive
file system would), the one with the lowest id keeps it and each other one gets
`` (doc N)`` before its extension. Ids never change and a new document always
has a higher id than the ones filed before it, so a collision never moves a
document that was already there, and the result does not depend on the order
documents are looked at.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from archiver.filing import names
from archiver.filing.rules import Rule, TextOf, choose
from archiver.filing.templates import DocMeta


@dataclass(frozen=True)
class Want:
    """A document wanted at a path, under the rule that put it there."""

    doc_id: int
    rule: str


def layout(metas: Iterable[DocMeta], rules: list[Rule], text_of: TextOf) -> dict[str, Want]:
    """Return the whole desired tree: relative path -> the document and rule it holds."""
    wanted = []
    for meta in metas:
        rule = choose(rules, meta, text_of)
        wanted += [(path, meta.doc_id, rule.name) for path in rule.paths(meta)]
    return resolve(wanted)


def resolve(wanted: Iterable[tuple[str, int, str]]) -> dict[str, Want]:
    """Give every (path, doc_id, rule) its own path; see the module docstring for who keeps it."""
    groups: dict[str, list[tuple[int, str, str]]] = {}
    for path, doc_id, rule in sorted(set(wanted), key=lambda w: (w[1], w[0], w[2])):
        group = groups.setdefault(names.key(path), [])
        if all(d != doc_id for d, _, _ in group):
            group.append((doc_id, path, rule))
    folders = {names.key("/".join(p.split("/")[:i])) for g in groups.values() for _, p, _ in g
               for i in range(1, p.count("/") + 1)}
    result: dict[str, Want] = {}
    taken: set[str] = set()
    losers = []
    for k in sorted(groups):
        first, *others = groups[k]
        if k in folders:
            losers.append(first)
        else:
            result[first[1]] = Want(first[0], first[2])
            taken.add(k)
        losers += others
    for doc_id, path, rule in sorted(losers):
        candidate, n = names.with_suffix(path, f" (doc {doc_id})"), 1
        while names.key(candidate) in taken or names.key(candidate) in folders:
            n += 1
            candidate = names.with_suffix(path, f" (doc {doc_id}-{n})")
        taken.add(names.key(candidate))
        result[candidate] = Want(doc_id, rule)
    return dict(sorted(result.items()))
