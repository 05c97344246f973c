"""Reference recognition: precision and recall on a generated corpus, identifier laws, own number vs cites."""
from __future__ import annotations

import random
import string
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from archiver.refs import DASH, DEFAULT_DOC_PREFIXES, Fields, Product, Recognizer, normalise_dashes

PRODUCTS = [
    Product("WX-100", "Widget X", ("Widget-X", "WX100")),
    Product("WX-200", "Widget X Pro", ("WX200", "Widget-X-Pro")),
    Product("GB-7", "Gearbox Seven", ("GB7", "Gearbox 7")),
    Product("AQ-5", "Aquarius Five", ("Nautilus",)),      # mentioned by its alias only in the corpus
]
UNICODE_DASHES = ["\u2010", "\u2011", "\u2013"]


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer(PRODUCTS)


def found(recognizer: Recognizer, text: str, kind: str | None = None, **fields) -> list[tuple]:
    """Return (kind, value, role, revision) of every reference in one page of text (and other fields)."""
    refs = recognizer.find(Fields(pages=(text,), **fields))
    return [(r.kind, r.value, r.role, r.revision) for r in refs if kind is None or r.kind == kind]


def values(recognizer: Recognizer, text: str, kind: str) -> list[str]:
    return [v for _, v, _, _ in found(recognizer, text, kind)]


# -- a generated corpus with known truth ---------------------------------------------------------

FILLER = ["The housing was checked again.", "Please see the notes below.", "Regards, the quality team.",
          "Costs are within the budget.", "The supplier confirmed the lead time.", "Open points follow.",
          "Nothing else to report.", "Tooling is on schedule."]


@dataclass
class Doc:
    """One generated document: its fields and the references it truly holds."""

    title: str = ""
    filename: str = ""
    pages: list[str] = field(default_factory=lambda: [""])
    truth: Counter = field(default_factory=Counter)  # (kind, value, role, revision) -> mentions

    def fields(self) -> Fields:
        return Fields(title=self.title, filename=self.filename, pages=tuple(self.pages))


def _dash(rng: random.Random) -> str:
    return rng.choice(["-", "-", *UNICODE_DASHES])


def _case(rng: random.Random, text: str) -> str:
    return rng.choice([str.lower, str.upper, str.title, lambda s: s])(text)


PRODUCT_LOOK_ALIKES = ["the competitor's WX-1000", "old GB-70 series", "WX1000 handheld", "xWX-100 part",
                       "the GB-7x prototype", "Widgets Xtra", "WX-100-2 bracket", "GB7-9 shaft"]


def _product_snippet(rng: random.Random) -> tuple[str, list]:
    kind = rng.randrange(10)
    if kind == 0:
        return f"the WX{_dash(rng)}100 unit", [("product", "WX-100", "mentions", None)]
    if kind == 1:
        return f"our {_case(rng, 'Widget X')} line", [("product", "WX-100", "mentions", None)]
    if kind == 2:
        return f"the {_case(rng, 'Widget')}{_dash(rng)}{_case(rng, 'X')} housing", \
            [("product", "WX-100", "mentions", None)]
    if kind == 3:   # contains "Widget X" but is only WX-200
        return f"the {_case(rng, rng.choice(['Widget X Pro', 'Widget-X-Pro']))} variant", \
            [("product", "WX-200", "mentions", None)]
    if kind == 4:
        return rng.choice(["GB-7 gearbox", f"GB{_dash(rng)}7", "GB7 output", f"{_case(rng, 'gearbox seven')} unit",
                           "Gearbox  7 shaft"]), [("product", "GB-7", "mentions", None)]
    if kind == 5:   # alias-only mention
        return f"the {_case(rng, 'Nautilus')} pump", [("product", "AQ-5", "mentions", None)]
    if kind == 6:
        return rng.choice(["WX200 firmware", "the WX-200 board"]), [("product", "WX-200", "mentions", None)]
    return rng.choice(PRODUCT_LOOK_ALIKES), []          # none of these is a registered product


def _cr_snippet(rng: random.Random) -> tuple[str, list]:
    year, number = rng.choice([2023, 2024, 2025]), f"{rng.randrange(1, 10000):04d}"
    canonical = f"CR-{year}-{number}"
    kind = rng.randrange(7)
    if kind == 0:
        written = rng.choice([f"CR-{year}-{number}", f"CR {year}-{number}", f"CR_{year}_{number}",
                              f"cr-{year}-{number}", f"CR{_dash(rng)}{year}{_dash(rng)}{number}"])
        return f"see {written} for details", [("change_request", canonical, "concerns", None)]
    if kind == 1:
        return f"ECR{_dash(rng)}{year}{_dash(rng)}{number[1:]} raised", \
            [("change_request", f"ECR-{year}-{number[1:]}", "concerns", None)]
    if kind == 2:
        n = rng.randrange(1000, 10000)
        return rng.choice([f"ECO-{n}", f"ECO {n}", f"eco{_dash(rng)}{n}"]) + " released", \
            [("change_request", f"ECO-{n}", "concerns", None)]
    if kind == 3:
        n = f"{rng.randrange(1, 1000):04d}"
        return f"notice ECN{_dash(rng)}{n} sent", [("change_request", f"ECN-{n}", "concerns", None)]
    if kind == 4:   # one digit more is another id, never the shorter one
        digit = rng.randrange(10)
        return f"old CR-2023-0142{digit} closed", [("change_request", f"CR-2023-0142{digit}", "concerns", None)]
    if kind == 5:   # glued to a word or a number: not an identifier
        return rng.choice([f"xCR-2024-{number}", f"CR-2024-{number}x", f"ref9CR-2024-{number}",
                           f"CR-2024-{number}-7", f"CR-2024-{number}.5"]), []
    return f"ticket CR-{year}-{number}.", [("change_request", canonical, "concerns", None)]


def _doc_snippet(rng: random.Random) -> tuple[str, list]:
    kind = rng.randrange(6)
    rev = rng.choice("ABCD")
    if kind == 0:
        form = rng.choice([f"Rev {rev}", f"Rev. {rev}", f"Revision {rev}", f"REV {rev}"])
        return f"per SPEC-104 {form} section 3", [("doc_number", "SPEC-104", "cites", rev)]
    if kind == 1:
        return f"geometry as in DWG{_dash(rng)}3310 Rev {rev}", [("doc_number", "DWG-3310", "cites", rev)]
    if kind == 2:
        n = rng.randrange(1, 20)
        return f"test to QP-12 rev {n}", [("doc_number", "QP-12", "cites", str(n))]
    if kind == 3:
        return "the old SPEC-1040 sheet", [("doc_number", "SPEC-1040", "cites", None)]
    if kind == 4:
        return rng.choice(["supplier part AC-3310-AL", "item XSPEC-104", "DWG-3310x draft"]), []
    return "work instruction WI-31", [("doc_number", "WI-31", "cites", None)]


def _own_number(rng: random.Random, i: int, doc: Doc) -> None:
    """Give some documents their own number: in the title, the file name, or a first-page label."""
    number, rev = f"{rng.choice(['SPEC', 'DWG', 'TS'])}-{500 + i}", rng.choice("ABC")
    where = rng.randrange(4)
    if where == 0:
        doc.title = f"{number} Rev {rev} Assembly specification"
    elif where == 1:
        doc.filename = f"{number}_Rev{rev}.pdf"
    elif where == 2:
        doc.pages[0] = f"Document: {number}\nRevision: {rev}\n" + doc.pages[0]
    else:
        return
    doc.truth[("doc_number", number, "is", rev)] += 1


def corpus(seed: int = 20240142, size: int = 90) -> list[Doc]:
    rng = random.Random(seed)
    makers = [_product_snippet, _cr_snippet, _doc_snippet]
    docs = []
    for i in range(size):
        doc = Doc(title=f"Memo {i}", filename=f"memo-{i}.txt", pages=["", ""])
        for page in range(2):
            parts = []
            for _ in range(rng.randrange(1, 5)):
                text, truth = rng.choice(makers)(rng)
                parts += [text + rng.choice([". ", "; ", ", ", "\n", " (ok). "]), rng.choice(FILLER) + " "]
                doc.truth.update(truth)
            doc.pages[page] = "".join(parts)
        _own_number(rng, i, doc)
        docs.append(doc)
    return docs


def test_the_corpus_is_recognised_with_precision_and_recall_one(recognizer):
    """Score every mention (not just every distinct value) so that an extra match is never hidden."""
    docs = corpus()
    for kind in ("product", "change_request", "doc_number"):
        truth, got = Counter(), Counter()
        for i, doc in enumerate(docs):
            truth.update({(i, *key): n for key, n in doc.truth.items() if key[0] == kind})
            got.update((i, r.kind, r.value, r.role, r.revision) for r in recognizer.find(doc.fields())
                       if r.kind == kind)
        hits = sum((truth & got).values())
        precision, recall = hits / sum(got.values()), hits / sum(truth.values())
        detail = "\n".join([f"missed {key} in {docs[key[0]].pages!r}" for key in sorted(truth - got)][:10]
                           + [f"wrong {key} in {docs[key[0]].pages!r}" for key in sorted(got - truth)][:10])
        assert (precision, recall) == (1.0, 1.0), f"{kind}: precision {precision}, recall {recall}\n{detail}"
        assert sum(truth.values()) >= 80, f"the corpus holds too few {kind} references to measure"


def test_the_corpus_covers_the_look_alikes_and_alias_only_mentions():
    text = "\n".join(p for d in corpus() for p in d.pages)
    for needle in (*PRODUCT_LOOK_ALIKES, "Widget X Pro", "CR-2023-0142", "SPEC-1040", "xCR-2024-", "AC-3310-AL",
                   "CR_20", "CR 20", "cr-20", "ECR", "ECO ", "ECN", "Rev. ", "Revision ", "rev ", "REV ",
                   *UNICODE_DASHES):
        assert text.count(needle) >= 2, needle
    assert any(d.filename.endswith(("_RevA.pdf", "_RevB.pdf", "_RevC.pdf")) for d in corpus())
    assert any(d.truth[("product", "AQ-5", "mentions", None)] for d in corpus())


def test_every_reference_keeps_its_evidence_and_where(recognizer):
    for doc in corpus()[:30]:
        fields = dict(doc.fields().items())
        for r in recognizer.find(doc.fields()):
            assert r.where in fields
            assert fields[r.where][r.offset:r.offset + len(r.evidence)] == r.evidence
            assert r.evidence in fields[r.where] and " ".join(r.evidence.split()) in r.context


# -- identifier recognition, case by case ------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("CR-2024-0142", "CR-2024-0142"),
    ("CR 2024-0142", "CR-2024-0142"),
    ("CR_2024_0142", "CR-2024-0142"),
    ("cr-2024-0142", "CR-2024-0142"),
    ("CR\u20112024\u20110142", "CR-2024-0142"),
    ("CR\u20132024\u20100142", "CR-2024-0142"),
    ("ECR-2024-007", "ECR-2024-007"),
    ("ECO-1123", "ECO-1123"),
    ("ECO 1123", "ECO-1123"),
    ("ECN-0456", "ECN-0456"),
    ("(CR-2024-0142).", "CR-2024-0142"),
])
def test_change_request_ids_are_canonical(recognizer, text, expected):
    refs = recognizer.find(Fields(pages=(f"Status of {text} today",)))
    [ref] = [r for r in refs if r.kind == "change_request"]
    assert (ref.value, ref.role, ref.evidence, ref.where) == (expected, "concerns", text.strip("()."), "page 1")


@pytest.mark.parametrize("text", ["CR-2023-01420", "xCR-2024-0142", "CR-2024-0142x", "CR-2024-0142-7",
                                  "CR-2024-0142.5", "1CR-2024-0142"])
def test_look_alike_change_request_ids_are_not_the_original(recognizer, text):
    assert "CR-2024-0142" not in values(recognizer, text, "change_request")
    assert "CR-2023-0142" not in values(recognizer, text, "change_request")


@pytest.mark.parametrize("text, expected", [
    ("WX-100", ["WX-100"]), ("WX\u2013100", ["WX-100"]), ("widget x", ["WX-100"]), ("WIDGET-X", ["WX-100"]),
    ("Widget X Pro", ["WX-200"]), ("widget\u2011x\u2011pro", ["WX-200"]), ("Gearbox\n7", ["GB-7"]),
    ("nautilus", ["AQ-5"]), ("WX-1000", []), ("GB-70", []), ("WX1000", []), ("GB-7.5", []), ("Widgets X", []),
    ("WX-100 and Widget X", ["WX-100", "WX-100"]),
])
def test_products_by_code_name_and_alias_as_whole_words(recognizer, text, expected):
    assert values(recognizer, f"About {text}; done.", "product") == expected


@pytest.mark.parametrize("text, value, revision", [
    ("SPEC-104 Rev C", "SPEC-104", "C"), ("SPEC-104 Rev. C", "SPEC-104", "C"),
    ("SPEC-104 Revision C", "SPEC-104", "C"), ("DWG-3310 Rev A", "DWG-3310", "A"), ("QP-12 Rev 2", "QP-12", "2"),
    ("QP-12 rev 2", "QP-12", "2"), ("SPEC-104, Rev B", "SPEC-104", "B"), ("SPEC-104", "SPEC-104", None),
    ("SPEC-1040", "SPEC-1040", None), ("DWG\u20133310 Rev A", "DWG-3310", "A"),
])
def test_document_numbers_with_revisions(recognizer, text, value, revision):
    assert found(recognizer, f"See {text} for this.", "doc_number") == [("doc_number", value, "cites", revision)]


def test_revision_in_a_file_name(recognizer):
    assert found(recognizer, "", "doc_number", filename="DWG-3310_RevC.pdf") == [
        ("doc_number", "DWG-3310", "is", "C")]


# -- own number versus cited numbers -------------------------------------------------------------

def test_a_number_in_the_title_is_the_documents_own(recognizer):
    refs = found(recognizer, "This revision replaces SPEC-104 Rev B. Geometry per DWG-3310 Rev A.", "doc_number",
                 title="SPEC-104 Rev C Housing Specification")
    assert refs == [("doc_number", "SPEC-104", "is", "C"), ("doc_number", "SPEC-104", "cites", "B"),
                    ("doc_number", "DWG-3310", "cites", "A")]


def test_a_labelled_number_on_the_first_page_is_the_documents_own(recognizer):
    refs = found(recognizer, "Document: DWG-3310 Revision: B\nHousing, top shell.\nMaterial per SPEC-104 Rev C.",
                 "doc_number")
    assert refs == [("doc_number", "DWG-3310", "is", "B"), ("doc_number", "SPEC-104", "cites", "C")]


def test_a_memo_that_only_cites_a_number_is_not_that_document(recognizer):
    memo = "Memo to quality\nWe discussed the salt spray hours. SPEC-104 Rev B asks for 96 h; see also SPEC-104."
    assert found(recognizer, memo, "doc_number", title="Memo on salt spray", filename="memo.txt") == [
        ("doc_number", "SPEC-104", "cites", "B"), ("doc_number", "SPEC-104", "cites", None)]


def test_a_quotation_that_names_its_drawing_only_cites_it(recognizer):
    page = ("Acme Castings Ltd. Quotation 24/0917\nQUOTATION No. 24/0917\nDate: 20 September 2024\n"
            "Your reference: CR-2024-0142 / WX100 housing, aluminium version\n"
            "Drawing: DWG-3310 Rev A, material changed to EN AC-46000\n")
    assert found(recognizer, page, "doc_number", title="Quotation 24/0917 - aluminium housing",
                 filename="Acme_Quotation_24-0917.pdf") == [("doc_number", "DWG-3310", "cites", "A")]


@pytest.mark.parametrize("text", ["Gearbox \u017feven", "W\u0130DGET X", "w\u0131dget x"])
def test_case_folding_look_alike_letters_never_crash(recognizer, text):
    recognizer.find(Fields(pages=(text,)))


@pytest.mark.parametrize("text", ["\u00e9CR-2024-0142", "CR-2024-0142\u00e9", "CR-2024-0142\u0663", "\u00fcWX-100",
                                  "WX-100\u00fc", "Widget X\u00e4"])
def test_identifiers_glued_to_non_ascii_letters_or_digits_are_not_whole_words(recognizer, text):
    assert found(recognizer, f"see {text} now") == []


# -- laws ---------------------------------------------------------------------------------------

# Surrounding text without digits cannot hold an identifier of its own.
SAFE_TEXT = st.text(alphabet=string.ascii_letters + " .,;:()!?\n", max_size=30)
LEFT_SEP = st.sampled_from([" ", "\n", "(", "[", "\"", ": ", "/", " \u2013 "])
RIGHT_SEP = st.sampled_from([" ", "\n", ")", ".", ",", ";", "\"", "/", "!"])
ANY_DASH = st.sampled_from(list(DASH))


@st.composite
def cr_ids(draw) -> tuple[str, str]:
    """Return (written, canonical) for a random valid change request id in one of its written forms."""
    shape = draw(st.sampled_from(["year", "plain", "order"]))
    prefix = draw(st.sampled_from(["CR", "ECR", "ECO", "ECN", "ECP", "DCR"]))
    written_prefix = draw(st.sampled_from([prefix, prefix.lower(), prefix.title()]))
    if shape == "year":
        year = draw(st.integers(1900, 2099))
        number = draw(st.text("0123456789", min_size=2, max_size=6))
        first = draw(st.sampled_from(["-", " ", "_", ""]))
        second = draw(st.sampled_from(["-", " ", "_"]))
        return f"{written_prefix}{first}{year}{second}{number}", f"{prefix}-{year}-{number}"
    number = draw(st.text("0123456789", min_size=3, max_size=6))
    if shape == "plain":
        return f"{written_prefix}-{number}", f"{prefix}-{number}"
    prefix = draw(st.sampled_from(["ECO", "ECN", "ECR"]))
    return f"{prefix}{draw(st.sampled_from([' ', '_', '']))}{number}", f"{prefix}-{number}"


def _crs(recognizer: Recognizer, text: str) -> list[str]:
    return [r.value for r in recognizer.find(Fields(pages=(text,))) if r.kind == "change_request"]


@settings(max_examples=300, deadline=None)
@given(cr_ids(), SAFE_TEXT, LEFT_SEP, RIGHT_SEP, SAFE_TEXT)
@example(("CR 2024-0142", "CR-2024-0142"), "Status", " ", ".", "")
def test_a_change_request_id_in_any_text_is_found_once_and_canonical(recognizer, cr, before, left, right, after):
    written, canonical = cr
    assert _crs(recognizer, f"{before}{left}{written}{right}{after}") == [canonical]


@settings(max_examples=200, deadline=None)
@given(cr_ids(), st.integers(0, 9), SAFE_TEXT, LEFT_SEP)
def test_an_id_with_one_more_digit_is_never_the_original(recognizer, cr, digit, before, left):
    written, canonical = cr
    assert canonical not in _crs(recognizer, f"{before}{left}{written}{digit} end")


@settings(max_examples=200, deadline=None)
@given(cr_ids(), st.data())
def test_any_unicode_dash_gives_the_same_canonical_id(recognizer, cr, data):
    written, canonical = cr
    dashed = "".join(data.draw(ANY_DASH) if ch == "-" else ch for ch in written)
    assert _crs(recognizer, f"ref {dashed} ok") == [canonical]
    assert normalise_dashes(dashed) == written


CODES = st.builds(lambda letters, digits: f"{letters}-{digits}",
                  st.text(string.ascii_uppercase, min_size=2, max_size=3),
                  st.text("0123456789", min_size=1, max_size=4))


@settings(max_examples=200, deadline=None)
@given(CODES, st.sampled_from(["{code}{d}", "{code}{d}{d}", "X{code}", "{d}{code}", "{code}-{d}", "{code}.{d}",
                               "{code}{l}", "{l}{code}"]),
       st.integers(0, 9), st.sampled_from("ABZqx"), SAFE_TEXT, LEFT_SEP, RIGHT_SEP)
def test_a_product_code_never_matches_inside_a_longer_code(code, shape, digit, letter, before, left, right):
    recognizer = Recognizer([Product(code, "")])
    longer = shape.format(code=code, d=digit, l=letter)
    text = f"{before}{left}{longer}{right}"
    assert [r for r in recognizer.find(Fields(pages=(text,))) if r.kind == "product"] == []
    [ref] = [r for r in recognizer.find(Fields(pages=(f"{before}{left}{code}{right}",))) if r.kind == "product"]
    assert (ref.value, ref.evidence) == (code, code)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(DEFAULT_DOC_PREFIXES), st.integers(1, 99999),
       st.sampled_from(["Rev {r}", "Rev. {r}", "Revision {r}", "REV {r}", "rev {r}", "_Rev{r}", ", Rev {r}"]),
       st.one_of(st.sampled_from(string.ascii_uppercase), st.integers(0, 99).map(str)), LEFT_SEP, RIGHT_SEP)
def test_a_document_number_keeps_its_revision(prefix, number, form, rev, left, right):
    text = f"see{left}{prefix}-{number} {form.format(r=rev)}{right}"
    refs = [r for r in Recognizer([]).find(Fields(pages=(text,))) if r.kind == "doc_number"]
    assert [(r.value, r.revision) for r in refs] == [(f"{prefix}-{number}", rev)]
