"""Find what a document is about: products, change requests and controlled document numbers.

Recognition is by whole identifiers: "WX-1000" is not "WX-100" and
"CR-2023-01420" is not "CR-2023-0142". Product names and aliases match case-
insensitively as whole words, longest first, so "Widget X Pro" is not also
"Widget X". Unicode dashes count as '-'. Each reference keeps its evidence:
the text as written, where it was found, and a little context.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

DASH = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_D = "\\" + DASH                       # the dashes, escaped for use inside [...]
_SEP = f"[ _{_D}]"
_LEFT = r"(?<![^\W_])"                  # not glued to a letter or digit (any script)
_RIGHT = rf"(?![^\W_]|[{_D}.,]\d)"
CONTEXT = 60
_REVISION = (r"(?:[\s_,(]*(?:[Rr]ev(?:ision)?|REV(?:ISION)?)\.?[\s_:]*(?P<rev>[A-Z]{1,2}|[0-9]{1,3})"
             r"(?![A-Za-z0-9]))")

DEFAULT_CR_PATTERNS = [
    rf"(?P<prefix>ECR|ECO|ECN|ECP|DCR|CR){_SEP}?(?P<year>(?:19|20)[0-9]{{2}}){_SEP}(?P<number>[0-9]{{2,6}})",
    rf"(?P<prefix>ECR|ECO|ECN|ECP|DCR|CR)[{_D}](?P<number>[0-9]{{3,6}})",
    rf"(?P<prefix>ECO|ECN|ECR)[ _]?(?P<number>[0-9]{{3,6}})",
]
DEFAULT_DOC_PREFIXES = ["SPEC", "DWG", "QP", "WI", "SOP", "TS", "TR", "RPT", "PS", "TP", "MAN"]


@dataclass(frozen=True)
class Product:
    """A product of the registry."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reference:
    """One thing a document refers to, with its evidence."""

    kind: str                   # product, change_request, doc_number
    value: str                  # canonical: WX-100, CR-2024-0142, SPEC-104
    role: str                   # mentions (product), concerns (change request), cites or is (doc number)
    evidence: str               # the text as written
    where: str                  # title, filename, subject, keywords, page N
    offset: int                 # character offset in that field
    context: str = ""
    revision: str | None = None


@dataclass(frozen=True)
class Fields:
    """The texts of one document that are searched for references."""

    title: str = ""
    filename: str = ""
    subject: str = ""
    keywords: str = ""
    pages: tuple[str, ...] = ()
    controlled: bool = True          # may have a number of its own (an e-mail never has)

    def items(self) -> Iterator[tuple[str, str]]:
        """Yield (where, text) for every non-empty field."""
        for where in ("title", "filename", "subject", "keywords"):
            text = getattr(self, where)
            if text:
                yield where, text
        for number, text in enumerate(self.pages, start=1):
            if text:
                yield f"page {number}", text


def normalise_dashes(text: str) -> str:
    """Replace Unicode dashes with '-'."""
    return text.translate({ord(c): "-" for c in DASH[1:]})


def _loose(term: str) -> str:
    """Return a pattern for a term: any dash for '-', any run of spaces for a space."""
    parts = []
    for ch in term.strip():
        if ch in DASH:
            parts.append(f"[{_D}]")
        elif ch.isspace():
            if parts[-1:] != [r"\s+"]:
                parts.append(r"\s+")
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


class Recognizer:
    """Finds references in a document's fields, for one product registry and pattern set."""

    def __init__(self, products: Iterable[Product], cr_patterns: Iterable[str] = DEFAULT_CR_PATTERNS,
                 doc_prefixes: Iterable[str] = DEFAULT_DOC_PREFIXES):
        self.products = list(products)
        owner: dict[str, str] = {}
        for p in self.products:
            for term in (p.code, p.name, *p.aliases):
                if term and term.strip():
                    owner.setdefault(term.strip(), p.code)
        # Longest first, so that "Widget X Pro" wins over "Widget X"; one named group per
        # term tells which product matched (case folding may change the text, e.g. "ſ").
        terms = sorted(owner, key=lambda t: (-len(t), t))
        self._product_of = {f"t{i}": owner[t] for i, t in enumerate(terms)}
        self._products = (re.compile(_LEFT + "(?:" + "|".join(f"(?P<t{i}>{_loose(t)})" for i, t in enumerate(terms))
                                     + ")" + _RIGHT, re.I) if terms else None)
        self._crs = [re.compile(_LEFT + "(?:" + p + ")" + _RIGHT, re.I) for p in cr_patterns]
        prefixes = "|".join(sorted((re.escape(p) for p in doc_prefixes), key=len, reverse=True))
        self._docs = re.compile(
            _LEFT + rf"(?P<prefix>(?i:{prefixes})){_SEP}?(?P<number>[0-9]+(?:\.[0-9]+)*)" + _RIGHT
            + _REVISION + "?")
        # Any other PREFIX-NUMBER is a controlled document number when a revision follows it
        # ("PRC-7 Rev B"), unless it is a change request or a product.
        self._any_docs = re.compile(_LEFT + rf"(?P<prefix>[A-Z][A-Z]{{1,7}}){_SEP}?(?P<number>[0-9]+(?:\.[0-9]+)*)"
                                    + _RIGHT + _REVISION)
        self._not_docs = {p.upper() for p in ("CR", "ECR", "ECO", "ECN", "ECP", "DCR")}
        self._codes = {normalise_dashes(p.code).upper() for p in self.products}

    def find(self, fields: Fields) -> list[Reference]:
        """Return every reference in the fields, own document number marked ``is``."""
        refs: list[Reference] = []
        for where, text in fields.items():
            refs += self._find_products(text, where)
            refs += self._find_crs(text, where)
            refs += self._find_docs(text, where)
        return _assign_roles(refs, fields)

    def _find_products(self, text: str, where: str) -> list[Reference]:
        if self._products is None:
            return []
        return [Reference("product", self._product_of[m.lastgroup], "mentions", m.group(0), where,
                          m.start(), _context(text, m)) for m in self._products.finditer(text)]

    def _find_crs(self, text: str, where: str) -> list[Reference]:
        found: dict[int, Reference] = {}
        for pattern in self._crs:
            for m in pattern.finditer(text):
                if any(m.start() < r.offset + len(r.evidence) and r.offset < m.end() for r in found.values()):
                    continue                  # an earlier (more specific) pattern took this text
                found[m.start()] = Reference("change_request", canonical_cr(m), "concerns", m.group(0), where,
                                             m.start(), _context(text, m))
        return [found[k] for k in sorted(found)]

    def _find_docs(self, text: str, where: str) -> list[Reference]:
        found = {}
        for m in self._docs.finditer(text):
            found[m.start()] = self._doc_ref(m, text, where)
        for m in self._any_docs.finditer(text):
            if m.start() in found or m.group("prefix") in self._not_docs:
                continue
            ref = self._doc_ref(m, text, where)
            if ref.value not in self._codes:
                found[m.start()] = ref
        return [found[k] for k in sorted(found)]

    @staticmethod
    def _doc_ref(m: re.Match, text: str, where: str) -> Reference:
        value = f"{m.group('prefix').upper()}-{m.group('number')}"
        return Reference("doc_number", value, "cites", m.group(0), where, m.start(), _context(text, m), m.group("rev"))


def canonical_cr(m: re.Match) -> str:
    """Return the canonical form of a matched change request id: PREFIX-YEAR-NUMBER or PREFIX-NUMBER."""
    groups = m.groupdict()
    prefix = (groups.get("prefix") or "CR").upper()
    year = groups.get("year")
    return f"{prefix}-{year}-{groups['number']}" if year else f"{prefix}-{groups['number']}"


_OWN_LABEL = re.compile(r"(?i)(?:\b(?:document|doc\.?)\s*(?:no\.?|number|id)?|\b(?:drawing|specification|spec\.?|"
                        r"procedure|instruction)\s*(?:no\.?|number))\s*[:#]\s*$")
_REVISION_LABEL = re.compile(r"(?i)\b(?:revision|rev\.?)\s*[:#]?\s*(?P<rev>[A-Z]{1,2}|[0-9]{1,3})(?![A-Za-z0-9])")
_HEADER_CHARS = 400


def _assign_roles(refs: list[Reference], fields: Fields) -> list[Reference]:
    """Mark the document's own number (from title, file name or first-page label) as ``is``."""
    own = _own_number(refs, fields) if fields.controlled else None
    if own is None:
        return refs
    value, revision = own
    out = []
    for r in refs:
        if r.kind == "doc_number" and r.value == value and r.revision in (None, revision):
            out.append(Reference(r.kind, r.value, "is", r.evidence, r.where, r.offset, r.context, revision))
        else:
            out.append(r)
    return out


def _own_number(refs: list[Reference], fields: Fields) -> tuple[str, str | None] | None:
    docs = [r for r in refs if r.kind == "doc_number"]
    heading = _heading_start(fields.pages[0]) if fields.pages else -1
    candidates = ([r for r in docs if r.where == "title"] or [r for r in docs if r.where == "filename"]
                  or [r for r in docs if r.where == "page 1" and r.offset == heading]
                  or [r for r in docs if r.where == "page 1" and r.offset < _HEADER_CHARS
                      and _OWN_LABEL.search(fields.pages[0][max(0, r.offset - 40):r.offset])])
    if not candidates:
        return None
    first = candidates[0]
    revision = first.revision or next((r.revision for r in docs if r.value == first.value and r.revision
                                       and r.where in ("title", "filename")), None)
    if revision is None and fields.pages:
        header = fields.pages[0][:_HEADER_CHARS]
        m = _REVISION_LABEL.search(header)
        if m:
            revision = m.group("rev")
    return first.value, revision


def _heading_start(text: str) -> int:
    """Return where the first line starts when it has more lines after it (a heading names its document)."""
    start = len(text) - len(text.lstrip())
    first_end = text.find("\n", start)
    if first_end < 0 or not text[first_end:].strip():
        return -1
    return start + len(re.match(r"[#*\s]*", text[start:]).group(0))


def _context(text: str, m: re.Match) -> str:
    start, end = max(0, m.start() - CONTEXT), min(len(text), m.end() + CONTEXT)
    return " ".join(text[start:end].split())
