"""Search: Whoosh syntax, filters, stemming, accents, exact identifiers, deep snippets."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from tests.conftest import write

DOCS = {
    "approval.txt": "The board approved change request CR-2023-0142 for the WX-100 housing.",
    "lookalike.txt": "Unrelated request CR-2023-01420 about paint colour and the résumé of Müller.",
    "dashes.txt": "A typographic dash: CR\u20112023\u20110142 written with non-breaking hyphens.",
    "review.md": "# Design review\n\nThe design review found the gearbox noise acceptable.",
    "page.html": "<html><head><title>Supplier page</title><script>var hidden='gearbox';</script></head>"
                 "<body><p>Acme Castings supplies the housing.</p></body></html>",
    "prices.csv": "part,price\nhousing,12.40\ncover,3.10\n",
}


@pytest.fixture
def loaded(archive, inbox):
    for i, (name, text) in enumerate(DOCS.items()):
        path = write(inbox, name, text)
        when = datetime(2024, i + 1, 15, tzinfo=timezone.utc).timestamp()
        os.utime(path, (when, when))
    results = archive.ingest([inbox]).results
    assert {r.status for r in results} == {"indexed"}
    return archive


def names(archive, query, **kw):
    hits, _ = archive.search(query, **kw)
    return sorted(os.path.basename(h.source) for h in hits)


def test_identifiers_match_exactly_as_written(loaded):
    assert names(loaded, "CR-2023-0142") == ["approval.txt", "dashes.txt"]
    assert names(loaded, "CR-2023-01420") == ["lookalike.txt"]
    assert names(loaded, "cr-2023-0142") == ["approval.txt", "dashes.txt"]
    assert names(loaded, "WX-100") == ["approval.txt"]
    assert names(loaded, "CR-2023-*") == ["approval.txt", "dashes.txt", "lookalike.txt"]
    assert names(loaded, "WX-*") == ["approval.txt"]
    assert names(loaded, "cr-*") == ["approval.txt", "dashes.txt", "lookalike.txt"]


def test_stemming_and_accent_folding(loaded):
    assert names(loaded, "approve") == ["approval.txt"]
    assert names(loaded, "resume") == ["lookalike.txt"]
    assert names(loaded, "muller") == ["lookalike.txt"]
    assert names(loaded, "supplies") == ["page.html"]


def test_boolean_phrase_field_and_wildcard_syntax(loaded):
    assert names(loaded, "gearbox AND noise") == ["review.md"]
    assert names(loaded, "housing OR gearbox") == ["approval.txt", "page.html", "prices.csv", "review.md"]
    assert names(loaded, "housing NOT board") == ["page.html", "prices.csv"]
    assert names(loaded, '"design review"') == ["review.md"]
    assert names(loaded, '"noise design"') == []
    assert names(loaded, '"review found the gearbox"') == ["review.md"]
    assert names(loaded, "title:supplier") == ["page.html"]
    assert names(loaded, "format:csv") == ["prices.csv"]
    assert names(loaded, "approv*") == ["approval.txt"]


def test_html_script_text_is_not_searchable(loaded):
    assert names(loaded, "hidden") == []


def test_dates_filter_and_query(loaded):
    after = datetime(2024, 3, 1, tzinfo=timezone.utc)
    before = datetime(2024, 4, 30, tzinfo=timezone.utc)
    assert names(loaded, "housing OR gearbox OR dash", after=after, before=before) == ["dashes.txt", "review.md"]
    assert names(loaded, "date:[2024-05-01 TO 2024-12-31]") == ["page.html", "prices.csv"]
    assert names(loaded, "date:2024-02") == ["lookalike.txt"]


def test_format_filter_and_limit(loaded):
    assert names(loaded, "housing OR gearbox", formats=["html", "markdown"]) == ["page.html", "review.md"]
    hits, total = loaded.search("housing OR gearbox", limit=2)
    assert len(hits) == 2 and total == 4
    hits, total = loaded.search("housing OR gearbox", formats=["html", "markdown", "csv"], limit=1)
    assert len(hits) == 1 and total == 3


def test_ranking_puts_the_better_match_first(loaded):
    hits, _ = loaded.search("gearbox")
    assert os.path.basename(hits[0].source) == "review.md"
    assert hits[0].score >= hits[-1].score


def test_snippets_highlight_matches_even_deep_in_long_documents(archive, inbox):
    filler = "Routine paragraph about maintenance intervals and lubrication. " * 3000
    write(inbox, "long.txt", filler + "At the very end the torque wrench calibration failed.")
    archive.ingest([inbox])
    [hit], _ = archive.search("calibration")
    assert "**calibration**" in hit.snippet
    assert "torque wrench" in hit.snippet


def test_identifier_hits_show_the_identifier_in_the_snippet(loaded):
    hits, _ = loaded.search("CR-2023-01420")
    assert "**CR-2023-01420**" in hits[0].snippet
