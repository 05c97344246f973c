"""Export a selection of the archive as a verifiable evidence bundle: a BagIt bag, as a folder or a zip.

A bundle holds, below ``data/``: ``natives/`` (the originals, byte-identical,
named ``<control number>_<safe original name>``), ``text/`` (extracted text),
``loadfile.dat`` / ``.csv`` / ``.json``, ``custody.json`` (each document's
audit entries up to the audit head), ``timeline.json``, ``crossrefs.graphml``
and ``.svg``, ``bundle.json``, ``index.html`` and ``hash-verification.txt``.

Determinism: everything below ``data/`` depends only on the archive and the
selection, so the same archive and selection give byte-identical payloads and
manifests; only ``bag-info.txt`` (Bagging-Date, Archiver-Export-Time, the
bundle's name) and the tag manifest that covers it change from one export to
the next. Custody records leave out export entries for that reason (see
:mod:`archiver.export.custody`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from archiver import __version__
from archiver.errors import ArchiverError
from archiver.export import custody, history, loadfile, report
from archiver.export.bundle import BagWriter, clean_partials, fsync_tree, remove, write_zip
from archiver.store import fsync_dir
from archiver.export.numbering import Item, number
from archiver.export.selection import Request, Selection, select

__all__ = ["ExportResult", "Request", "export", "STATEMENT"]

STATEMENT = "hash-verification.txt"
FILES = {"dat": "loadfile.dat", "csv": "loadfile.csv", "json": "loadfile.json", "custody": "custody.json",
         "timeline": "timeline.json", "graphml": "crossrefs.graphml", "svg": "crossrefs.svg",
         "summary": "bundle.json", "report": "index.html", "statement": STATEMENT}


@dataclass(frozen=True)
class ExportResult:
    """What an export did (or, for a dry run, would do): the JSON of `archiver export --json`."""

    out: str | None
    zip: bool
    dry_run: bool
    selection: str
    request: dict
    documents: int
    control_numbers: dict
    manifest_sha256: str | None
    audit_head: dict | None
    bagging_date: str | None
    items: list[dict]


def export(archive, request: Request, out: Path | None = None, *, as_zip: bool = False, dry_run: bool = False,
           at: datetime | None = None) -> ExportResult:
    """Select documents, write them as a bundle at ``out`` and record the export in the audit log.

    The bundle is written under ``<out>.partial-<pid>`` and renamed when
    complete; ``out`` must not exist. With ``dry_run`` nothing is written.
    ``at`` fixes the export time (for tests); it only shows in bag-info.txt.
    """
    if dry_run:
        selection = select(archive, request)
        return _result(selection, _number(archive, selection), None, False, True, None, None, None)
    out, as_zip = _target(out, as_zip)
    at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    with archive.writing(check_settings=False):
        clean_partials(out)
        selection = select(archive, request)
        items = _number(archive, selection)
        head = archive.catalog.audit_head(skip_exports=True)
        partial = out.with_name(f"{out.name}.partial-{os.getpid()}")
        folder = out.with_name(f"{out.name}.partial-{os.getpid()}.d") if as_zip else partial
        try:
            digest = _write_bag(archive, selection, items, head, folder, _bag_info(archive, selection, items,
                                                                                     head, out, at))
            if as_zip:
                write_zip(folder, partial, out.stem)
                remove(folder)
            fsync_tree(partial)
            with archive.catalog.transaction():
                _audit(archive.catalog, selection, items, out, digest, head, as_zip)
                if out.exists():
                    raise ArchiverError(f"{out}: appeared while the bundle was written; it was left as it is")
                os.replace(partial, out)
            fsync_dir(out.parent)
        except BaseException:
            remove(folder)
            remove(partial)
            raise
    return _result(selection, items, str(out), as_zip, False, digest, head, at.date().isoformat())


def _target(out: Path | None, as_zip: bool) -> tuple[Path, bool]:
    if out is None:
        raise ArchiverError("say where to write the bundle: --out PATH")
    out = Path(out).absolute()
    as_zip = as_zip or out.suffix.lower() == ".zip"
    if as_zip and out.suffix.lower() != ".zip":
        out = out.with_name(out.name + ".zip")
    if out.exists() or out.is_symlink():
        raise ArchiverError(f"{out}: already exists; choose another --out or remove it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiverError(f"{out.parent}: cannot create the folder ({exc.strerror or exc})") from exc
    return out, as_zip


def _number(archive, selection: Selection) -> list[Item]:
    cfg = archive.config
    return number(archive.catalog, selection.doc_ids, cfg["export.prefix"], cfg["export.digits"])


def _write_bag(archive, selection: Selection, items: list[Item], head: dict | None, folder: Path,
               info: list[tuple[str, str]]) -> str:
    """Write the whole bag into ``folder``; return the SHA-256 of its manifest-sha256.txt."""
    cfg = archive.config
    names = loadfile.field_names(cfg["export.profile"], cfg["export.fields"])
    bag = BagWriter(folder)
    rows = _natives_and_rows(archive, items, bag)
    header = [names[f] for f in loadfile.FIELDS]
    table = [[r[f] for f in loadfile.FIELDS] for r in rows]
    bag.add_bytes(FILES["dat"], loadfile.dat_bytes(header, table))
    bag.add_bytes(FILES["csv"], loadfile.csv_bytes(header, table))
    bag.add_bytes(FILES["json"], loadfile.json_bytes(header, table))
    bag.add_bytes(FILES["custody"], custody.dump(custody.custody(archive, items, head)))
    entries = history.timeline(archive, selection, items)
    bag.add_bytes(FILES["timeline"], custody.dump(entries))
    graphml, nodes, edges = history.crossrefs(archive, items)
    bag.add_bytes(FILES["graphml"], graphml)
    bag.add_bytes(FILES["svg"], report.svg(nodes, edges).encode("utf-8"))
    summary = custody.summary(selection, items, names, cfg["export.profile"], head, FILES)
    bag.add_bytes(FILES["summary"], custody.dump(summary))
    bag.add_bytes(FILES["report"], report.index_html(summary, items, entries, FILES).encode("utf-8"))
    statement = custody.statement(selection, items, head, bag.manifest_digest(), f"data/{STATEMENT}")
    bag.add_bytes(STATEMENT, statement.encode("utf-8"))
    return bag.finish(info)


def _natives_and_rows(archive, items: list[Item], bag: BagWriter) -> list[dict[str, str]]:
    catalog = archive.catalog
    ids = [i.doc.id for i in items]
    products, crs = catalog.values_of(ids, "product"), catalog.values_of(ids, "change_request")
    rows = []
    for item in items:
        doc = item.doc
        hashes = bag.add_copy(item.native, archive.store.path_for(doc.sha256), doc.sha256)
        bag.add_bytes(item.text, catalog.text(doc.id).encode("utf-8"))
        rows.append(loadfile.document_row(item, hashes, products[doc.id], crs[doc.id], _places(catalog, doc.id)))
    return rows


def _places(catalog, doc_id: int) -> list[str]:
    """Return every path a document was seen at, attachments as ``<message path>#attachment-<n>``."""
    places = [s.path for s in catalog.sources(doc_id)]
    for message_id, position, _ in catalog.attachment_places(doc_id):
        message_paths = [s.path for s in catalog.sources(message_id)] or [f"document {message_id}"]
        places.append(f"{message_paths[0]}#attachment-{position}")
    return places


def _bag_info(archive, selection: Selection, items: list[Item], head: dict | None, out: Path,
              at: datetime) -> list[tuple[str, str]]:
    organization = archive.config["export.organization"]
    info = [("Source-Organization", organization)] if organization else []
    return info + [
        ("Bag-Software-Agent", f"archiver {__version__}"),
        ("Bagging-Date", at.date().isoformat()),
        ("Archiver-Export-Time", at.isoformat()),
        ("External-Identifier", out.stem if out.suffix.lower() == ".zip" else out.name),
        ("External-Description", f"Evidence export of {selection.description}: {len(items)} documents, "
                                 f"{items[0].control_number} to {items[-1].control_number}"),
        ("Archiver-Selection", selection.request.as_options()),
        ("Archiver-Source", str(Path(archive.root).absolute())),
        ("Archiver-Audit-Head", f"entry {head['id']} {head['hash']}" if head else "none"),
    ]


def _audit(catalog, selection: Selection, items: list[Item], out: Path, digest: str, head: dict | None,
           as_zip: bool) -> None:
    for item in items:
        catalog.audit("export", item.doc.id, item.doc.sha256, control_number=item.control_number,
                      bundle=str(out), manifest_sha256=digest)
    catalog.audit("export.bundle", None, None, bundle=str(out), zip=as_zip, selection=selection.description,
                  request=selection.request.as_dict(), documents=len(items), first=items[0].control_number,
                  last=items[-1].control_number, manifest_sha256=digest,
                  audit_head=head["hash"] if head else None)


def _result(selection: Selection, items: list[Item], out: str | None, as_zip: bool, dry_run: bool,
            digest: str | None, head: dict | None, bagging_date: str | None) -> ExportResult:
    rows = [{"control_number": i.control_number, "doc_id": i.doc.id, "parent": i.parent, "date": i.doc.date,
             "title": i.doc.title or i.name, "format": i.doc.format, "native": f"data/{i.native}"} for i in items]
    return ExportResult(out, as_zip, dry_run, selection.description, selection.request.as_dict(), len(items),
                        {"first": items[0].control_number, "last": items[-1].control_number}, digest, head,
                        bagging_date, rows)
