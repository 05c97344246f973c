"""Derived indexes of an archive: full-text search and the cross-reference graph.

Nothing here imports ``archiver``: these modules take plain records and answer
queries, so that an engine can be swapped without touching the archive.
"""
