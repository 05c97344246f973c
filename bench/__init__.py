"""Benchmark archiver against its component floor and Recoll on a generated corpus.

Run it with ``python -m bench.run --n 1000`` (see README, "Benchmark"). The
modules: :mod:`bench.vocab` (words, identifiers, sentences), :mod:`bench.corpus`
(the document generator), :mod:`bench.queries` (the fixed queries and ids),
:mod:`bench.proc` (timing subprocesses with their memory), :mod:`bench.stats`
(median, p95), :mod:`bench.measure` (archiver itself), :mod:`bench.floor` (the
raw components alone), :mod:`bench.recoll` (Recoll on the same files),
:mod:`bench.report` (ratios, targets, the table) and :mod:`bench.profile`
(where ingest, OCR, queries and start-up spend their time).
"""
