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


PHRASES = {
    "exact.txt": "The change control board met on Monday.",
    "twice.txt": "Change control board first; later the change control board again.",
    "apart.txt": "A change of control happened; the board did not meet.",
    "reversed.txt": "Board control change is not the phrase.",
    "pairs.txt": "The change control process and the control board are separate.",
    "stopword.txt": "The quality of the service was reviewed.",
}


def test_phrases_match_only_words_in_that_order_and_count_every_match(archive, inbox):
    for name, text in PHRASES.items():
        write(inbox, name, text)
    archive.ingest([inbox])
    assert names(archive, '"change control board"') == ["exact.txt", "twice.txt"]
    assert names(archive, '"control board"') == ["exact.txt", "pairs.txt", "twice.txt"]
    assert names(archive, '"board control change"') == ["reversed.txt"]
    assert names(archive, '"quality of the service"') == ["stopword.txt"]
    assert names(archive, '"change control board" OR "board control"') == ["exact.txt", "reversed.txt",
                                                                           "twice.txt"]
    hits, total = archive.search('"change control board"', limit=1)
    assert total == 2 and len(hits) == 1
    # More occurrences rank first, and the snippet marks the phrase's words.
    hits, _ = archive.search('"change control board"')
    assert os.path.basename(hits[0].source) == "twice.txt"
    assert "**board**" in hits[0].snippet.lower()


def test_phrases_are_found_across_index_segments(archive, inbox):
    # Each ingest adds a segment: a phrase is matched in every one of them.
    for i in range(3):
        folder = inbox / f"batch{i}"
        write(folder, f"minutes{i}.txt", f"Batch {i}: the change control board approved it.")
        archive.ingest([folder])
    hits, total = archive.search('"change control board"')
    assert total == 3


def test_identifier_wildcards_count_every_identifier_and_no_lookalike(archive, inbox):
    for i in range(40):
        write(inbox, f"cr{i}.txt", f"Change request CR-2024-{i:04d} for the housing.")
    write(inbox, "other-year.txt", "Change request CR-2023-0007 only.")
    write(inbox, "prose.txt", "The year 2024 was busy with requests.")
    archive.ingest([inbox])
    hits, total = archive.search("CR-2024-*", limit=5)
    assert total == 40 and len(hits) == 5
    assert all("**CR-2024-" in h.snippet for h in hits)
    _, total = archive.search("CR-2024-* AND housing")
    assert total == 40
    _, total = archive.search("CR-2025-*")
    assert total == 0


def test_an_open_archive_sees_documents_added_and_an_index_rebuilt(archive, inbox, tmp_path):
    write(inbox, "first.txt", "The gearbox housing was cast.")
    archive.ingest([inbox])
    assert names(archive, "gearbox") == ["first.txt"]
    write(inbox, "second.txt", "A second gearbox arrived.")
    archive.ingest([inbox])
    assert names(archive, "gearbox") == ["first.txt", "second.txt"]
    archive.reindex()
    assert names(archive, "gearbox") == ["first.txt", "second.txt"]
    # Another process (here: another Archive object) adds a document; the first one sees it.
    from archiver import Archive
    other = Archive(archive.root)
    write(inbox, "third.txt", "Third gearbox.")
    other.ingest([inbox])
    other.close()
    assert names(archive, "gearbox") == ["first.txt", "second.txt", "third.txt"]


def test_andnot_drops_every_document_of_its_right_side(archive, inbox):
    write(inbox, "a-housing.txt", "The housing alone.")
    write(inbox, "b-both.txt", "The flange and the housing.")
    write(inbox, "c-flange.txt", "The flange alone.")
    archive.ingest([inbox])
    assert names(archive, "flange ANDNOT housing") == ["c-flange.txt"]
    assert names(archive, "flange AND NOT housing") == ["c-flange.txt"]
    assert names(archive, "(flange OR housing) ANDNOT alone") == ["b-both.txt"]


def test_small_commits_merge_only_segments_of_their_own_size(tmp_path, monkeypatch):
    from indexes import fulltext
    from indexes.fulltext import FulltextIndex, IndexRecord
    monkeypatch.setattr(fulltext, "MERGE_AT", 3)
    index = FulltextIndex(tmp_path / "ix")
    index.create()

    def record(i: int) -> IndexRecord:
        return IndexRecord(doc_id=i, title=f"note {i}", content=f"gearbox note number {i}")
    with index.writer() as w:
        for i in range(1, 201):
            w.add(record(i))
    for i in range(201, 206):      # five one-document commits, as a watcher makes
        with index.writer() as w:
            w.add(record(i))
    ix = index._open()
    sizes = sorted(seg.doc_count_all() for seg in ix._segments())
    ix.close()
    # The big segment is never rewritten by a small commit; three small ones became one.
    assert sizes == [1, 4, 200]
    assert index.search("gearbox")[1] == 205
