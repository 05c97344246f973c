"""Read filing rules, match them against a document and explain why each one did or did not match.

A rule is a table of ``[[filing.rules]]`` in archive.toml: a ``name``, a
``path`` template, ``each_product`` / ``each_cr`` (file one entry per product /
per change request) and conditions. Every condition given must hold; a
condition with a list holds when any of its values does. Values are
case-insensitive glob patterns (``*``, ``?``, ``[...]``), except ``text`` (a
regular expression searched in the text, case-insensitive) and ``after`` /
``before`` (dates, inclusive). The first rule that matches wins; the default
rule (``filing.default``) matches every document.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Callable

from archiver.filing import templates
from archiver.filing.templates import DocMeta, Template, TemplateError
from archiver.refs import normalise_dashes

GLOB_KEYS = ("format", "product", "cr", "doc_number", "author", "sender", "filename")
DATE_KEYS = ("after", "before")
CONDITION_KEYS = GLOB_KEYS + DATE_KEYS + ("text",)     # text last: it is the costly one
RULE_KEYS = ("name", "path", "each_product", "each_cr") + CONDITION_KEYS
DEFAULT_NAME = "default"

TextOf = Callable[[int], str]


@dataclass(frozen=True)
class Condition:
    """One condition of a rule: a key and the values any of which must match."""

    key: str
    values: tuple          # glob strings, one date, or compiled regular expressions

    def check(self, meta: DocMeta, text_of: TextOf) -> tuple[bool, str]:
        """Return whether the document meets the condition, and why, naming its actual value."""
        if self.key in DATE_KEYS:
            return self._check_date(meta)
        if self.key == "text":
            text = text_of(meta.doc_id)
            hit = next((p for p in self.values if p.search(text)), None)
            shown = _any(p.pattern for p in self.values)
            return (True, f"text matches {shown}") if hit else (False, f"text does not match {shown}")
        label, actual = _actual(self.key, meta)
        wanted = _any(self.values)
        shown = ", ".join(actual) if actual else "(none)"
        if any(_glob(a, v, self.key) for a in actual for v in self.values):
            return True, f"{label} {shown} matches {wanted}"
        return False, f"{label} {shown} does not match {wanted}"

    def _check_date(self, meta: DocMeta) -> tuple[bool, str]:
        limit = self.values[0]
        if meta.date is None:
            return False, f"the document has no date (needs {self.key} {limit.isoformat()})"
        day = meta.date.date()
        ok = day >= limit if self.key == "after" else day <= limit
        relation = ("on or after" if ok else "before") if self.key == "after" else (
            "on or before" if ok else "after")
        return ok, f"date {day.isoformat()} is {relation} {limit.isoformat()}"


@dataclass(frozen=True)
class Rule:
    """A filing rule: conditions, a path template, and whether to file per product or change request."""

    name: str
    template: Template
    conditions: tuple[Condition, ...] = ()
    each_product: bool = False
    each_cr: bool = False

    def matches(self, meta: DocMeta, text_of: TextOf) -> bool:
        """Tell whether every condition holds (stopping at the first that does not)."""
        return all(c.check(meta, text_of)[0] for c in self.conditions)

    def explain(self, meta: DocMeta, text_of: TextOf) -> tuple[bool, list[str]]:
        """Return whether the rule matches and the reason of every condition."""
        if not self.conditions:
            return True, ["no conditions: matches every document"]
        checked = [c.check(meta, text_of) for c in self.conditions]
        return all(ok for ok, _ in checked), [why for _, why in checked]

    def _wanted(self, key: str, *names: str) -> bool:
        """Tell whether a product (code, name) or change request meets the rule's own condition on it.

        A rule ``cr = "CR-2024-*"`` with ``each_cr`` files a paper under the 2024
        change requests it names, not under every change request it names.
        """
        condition = next((c for c in self.conditions if c.key == key), None)
        return condition is None or any(_glob(n, v, key) for n in names if n for v in condition.values)

    def paths(self, meta: DocMeta) -> list[str]:
        """Return the paths this rule files a document to: one, or one per product and/or change request."""
        products = ([(p, n) for p, n in zip(meta.products, _padded(meta)) if self._wanted("product", p, n)]
                    if self.each_product else [None])
        crs = [c for c in meta.crs if self._wanted("cr", c)] if self.each_cr else [None]
        found: list[str] = []
        for product in products or [None]:
            for cr in crs or [None]:
                one = meta
                if product is not None:
                    one = replace(one, products=(product[0],), product_names=(product[1],))
                if cr is not None:
                    one = replace(one, crs=(cr,))
                path = templates.render(self.template, one)
                if path not in found:
                    found.append(path)
        return found


@dataclass(frozen=True)
class Verdict:
    """How one rule judged one document (a row of ``archiver file --explain``)."""

    name: str
    matched: bool
    used: bool
    reasons: tuple[str, ...]


def choose(rules: list[Rule], meta: DocMeta, text_of: TextOf) -> Rule:
    """Return the first rule that matches (the last rule, the default, matches everything)."""
    return next(r for r in rules if r.matches(meta, text_of))


def explain(rules: list[Rule], meta: DocMeta, text_of: TextOf) -> list[Verdict]:
    """Judge every rule in order: matched or not, why, and which one is used."""
    verdicts, used = [], False
    for rule in rules:
        matched, reasons = rule.explain(meta, text_of)
        if rule.name == DEFAULT_NAME and rule is rules[-1]:
            reasons = ["the default rule matches every document"]
        verdicts.append(Verdict(rule.name, matched, matched and not used, tuple(reasons)))
        used = used or matched
    return verdicts


# -- reading the configuration ------------------------------------------------


def parse_rules(entries: list, default: str) -> list[Rule]:
    """Return the rules of ``filing.rules`` followed by the default rule; raise ValueError (one line)."""
    if not isinstance(entries, list):
        raise ValueError("must be a list of [[filing.rules]] tables")
    rules = [_parse_rule(i, entry) for i, entry in enumerate(entries, start=1)]
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen or rule.name == DEFAULT_NAME:
            raise ValueError(f"rule {rule.name!r}: the name is used twice (or is 'default', which is reserved)")
        seen.add(rule.name)
    try:
        rules.append(Rule(DEFAULT_NAME, templates.parse(default)))
    except TemplateError as exc:
        raise ValueError(f"filing.default: {exc}") from exc
    return rules


def check_rules(value: Any) -> None:
    """Check ``filing.rules`` as the configuration loader does (raise ValueError with one line)."""
    parse_rules(value, "{title}")


def check_template(value: Any) -> None:
    """Check a path template setting (raise ValueError with one line)."""
    templates.parse(value)


def check_mode(value: Any) -> None:
    """Check ``filing.mode``."""
    if value not in ("hardlink", "copy", "symlink"):
        raise ValueError(f"{value!r} is not one of hardlink, copy, symlink")


def check_root(value: Any) -> None:
    """Check ``filing.root`` (where it points is checked when filing)."""
    if not value.strip() or value.strip() in (".", "./"):
        raise ValueError("must name a folder other than the archive folder itself")


def _parse_rule(number: int, entry: Any) -> Rule:
    if not isinstance(entry, dict):
        raise ValueError(f"rule {number}: must be a table with name, path and conditions")
    name = entry.get("name", f"rule {number}")
    where = f"rule {number}" + (f" ({name})" if "name" in entry else "")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: name must be a non-empty string")
    for key in entry:
        if key not in RULE_KEYS:
            raise ValueError(f"{where}: unknown key {key!r} (known: {', '.join(RULE_KEYS)})")
    if "path" not in entry:
        raise ValueError(f"{where}: path (the path template) is missing")
    try:
        template = templates.parse(entry["path"])
    except TemplateError as exc:
        raise ValueError(f"{where}: path: {exc}") from exc
    for flag in ("each_product", "each_cr"):
        if not isinstance(entry.get(flag, False), bool):
            raise ValueError(f"{where}: {flag} must be true or false")
    conditions = tuple(_condition(where, key, entry[key]) for key in CONDITION_KEYS if key in entry)
    return Rule(name.strip(), template, conditions, entry.get("each_product", False), entry.get("each_cr", False))


def _condition(where: str, key: str, raw: Any) -> Condition:
    if key in DATE_KEYS:
        return Condition(key, (_date(where, key, raw),))
    values = raw if isinstance(raw, list) else [raw]
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{where}: {key} must be a non-empty string or a list of them")
    if key == "text":
        compiled = []
        for v in values:
            try:
                compiled.append(re.compile(v, re.IGNORECASE | re.MULTILINE))
            except re.error as exc:
                raise ValueError(f"{where}: text: {v!r} is not a regular expression: {exc}") from exc
        return Condition(key, tuple(compiled))
    return Condition(key, tuple(v.strip() for v in values))


def _date(where: str, key: str, raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: {key}: {raw!r} is not a date like 2024-03-31")


# -- helpers ------------------------------------------------------------------


def _actual(key: str, meta: DocMeta) -> tuple[str, list[str]]:
    if key == "product":
        return "products", [v for pair in zip(meta.products, _padded(meta)) for v in pair if v]
    if key == "cr":
        return "change requests", list(meta.crs)
    if key == "sender":
        parts = [meta.sender, templates.sender_name(meta.sender), templates.sender_address(meta.sender)]
        return "sender", list(dict.fromkeys(p for p in parts if p))
    value = {"format": meta.format, "doc_number": meta.doc_number, "author": meta.author,
             "filename": meta.filename}[key]
    label = {"doc_number": "document number", "filename": "file name"}.get(key, key)
    return label, [value] if value else []


def _glob(actual: str, pattern: str, key: str) -> bool:
    if key in ("cr", "doc_number"):
        actual, pattern = normalise_dashes(actual), normalise_dashes(pattern)
    return fnmatch.fnmatchcase(actual.casefold(), pattern.casefold())


def _any(values) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else "any of " + ", ".join(shown)


def _padded(meta: DocMeta) -> list[str]:
    return list(meta.product_names) + [""] * (len(meta.products) - len(meta.product_names))
