"""Give the fixed benchmark queries (50, of five kinds) and the ids asked of related and timeline.

Each query has the archiver form (query text plus the filters of ``archiver
search``) and a Recoll form (``recollq`` query language): the same intent, with
identifiers as quoted phrases, ``format:`` as ``ext:``/``mime:``, archiver's
``--product``/``--cr`` filters as an extra required phrase, and dates as
Recoll's ``date:FROM/TO``. Wildcards inside identifiers (``CR-2024-*``) have no
Recoll equivalent: they become the phrase ``"CR 2024"``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bench import vocab

KINDS = ("word", "phrase", "identifier", "field", "date")


@dataclass(frozen=True)
class Query:
    """One benchmark query in archiver's and Recoll's forms."""

    kind: str
    text: str
    recoll: str
    formats: tuple[str, ...] = ()
    after: str | None = None
    before: str | None = None
    products: tuple[str, ...] = ()
    crs: tuple[str, ...] = field(default=())

    def cli_args(self) -> list[str]:
        """Return the arguments of ``archiver search`` for this query."""
        args = [self.text]
        for fmt in self.formats:
            args += ["--format", fmt]
        for product in self.products:
            args += ["--product", product]
        for cr in self.crs:
            args += ["--cr", cr]
        if self.after:
            args += ["--after", self.after]
        if self.before:
            args += ["--before", self.before]
        return args

    def label(self) -> str:
        """Return the query as a person would type it on the command line."""
        return " ".join(a if " " not in a and '"' not in a else repr(a) for a in self.cli_args())


def queries(n: int) -> list[Query]:
    """Return the 50 queries for a corpus of ``n`` documents (identifiers that it contains)."""
    u = vocab.universe(n)
    crs, docs = u.crs, u.docnums
    spec, dwg, qp, tr = (next(d for d in docs if d.startswith(p)) for p in ("SPEC-", "DWG-", "QP-", "TR-"))
    words = ["torque", "gasket", "approved", "supplier", "calibration", "housing", "firmware", "tolerance",
             "corrosion", "approv*"]
    phrases = ["design review", "torque limit", "change control board", "surface finish", "supplier quote",
               "root cause", "first article inspection", "salt spray test"]
    out = [Query("word", w, w) for w in words]
    out += [Query("phrase", f'"{p}"', f'"{p}"') for p in phrases]
    idents = [crs[0], crs[1], crs[len(crs) // 2], crs[-1], spec, dwg, qp, tr, u.ecos[0], "WX-100", "GB-7"]
    out += [Query("identifier", i, f'"{i}"') for i in idents]
    out.append(Query("identifier", "CR-2024-*", '"CR 2024"'))
    out += _field_queries(crs)
    out += _date_queries()
    assert len(out) == 50, len(out)
    return out


def _field_queries(crs: tuple[str, ...]) -> list[Query]:
    return [
        Query("field", "title:review", "title:review"),
        Query("field", "title:minutes", "title:minutes"),
        Query("field", "filename:quote", "filename:*quote*"),
        Query("field", "format:docx AND tolerance", "ext:docx tolerance"),
        Query("field", "format:email AND housing", "mime:message/rfc822 housing"),
        Query("field", "author:meyer", "author:meyer"),
        Query("field", "content:gear", "gear"),
        Query("field", "housing", '"WX-100" housing', products=("WX-100",)),
        Query("field", "approved", f'"{crs[2]}" approved', crs=(crs[2],)),
        Query("field", "torque", "ext:pdf torque", formats=("pdf",)),
    ]


def _date_queries() -> list[Query]:
    return [
        Query("date", "date:[2024-01-01 TO 2024-06-30]", "date:2024-01-01/2024-06-30"),
        Query("date", "date:2024-03", "date:2024-03-01/2024-03-31"),
        Query("date", "date:>2025-06-01", "date:2025-06-01/"),
        Query("date", "gasket date:[2023-01-01 TO 2023-12-31]", "gasket date:2023-01-01/2023-12-31"),
        Query("date", "supplier", "supplier date:2024-07-01/2024-09-30", after="2024-07-01", before="2024-09-30"),
        Query("date", "date:2023", "date:2023-01-01/2023-12-31"),
        Query("date", "CR-2024-* date:[2024-01-01 TO 2024-12-31]", '"CR 2024" date:2024-01-01/2024-12-31'),
        Query("date", '"design review" date:[2025-01-01 TO 2025-12-31]', '"design review" date:2025-01-01/2025-12-31'),
        Query("date", "firmware", "firmware date:2025-01-01/", after="2025-01-01"),
        Query("date", "tolerance", "tolerance date:/2023-06-30", before="2023-06-30"),
    ]


def graph_ids(n: int, doc_ids: list[int]) -> list[str]:
    """Return the 20 ids asked of ``related``: 4 products, 6 CRs, 5 document numbers, 5 documents.

    ``timeline`` is asked of the first 15 (a timeline is not of a single document).
    """
    u = vocab.universe(n)
    crs = [u.crs[i * (len(u.crs) - 1) // 5] for i in range(6)]
    nums = [u.docnums[i * (len(u.docnums) - 1) // 4] for i in range(5)]
    picks = [doc_ids[i * (len(doc_ids) - 1) // 4] for i in range(5)] if doc_ids else []
    return ["WX-100", "WX-200", "GB-7", "PX-300", *crs, *nums, *map(str, picks)]
