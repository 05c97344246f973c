"""Parse the command line, call the core, print: the thin click layer over :class:`Archive`."""
from __future__ import annotations

import functools
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from archiver import __version__, output
from archiver.archive import Archive
from archiver.errors import ArchiverError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_REJECTS = 0, 1, 2, 3


class _Group(click.Group):
    """The one place where an ArchiverError becomes 'Error: ...' and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArchiverError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except OSError as exc:
            # A folder that cannot be written, a full disk: the file and the system's reason.
            where = f"{output.printable(exc.filename)}: " if exc.filename else ""
            click.echo(f"Error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except Exception as exc:
            # A team archive's database server can go away in the middle of a command.
            if not type(exc).__module__.startswith("psycopg"):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            click.echo(f"Error: the catalog database failed ({first}); what was committed is kept, "
                       "run the command again to finish", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("Interrupted; the archive is consistent, run the command again to finish.", err=True)
            ctx.exit(130)


def json_option(func):
    """Add --json to a command."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (see README).")(func)


def with_archive(func):
    """Open the archive chosen by --archive and pass it as the first argument."""
    @click.pass_obj
    @functools.wraps(func)
    def wrapper(obj, *args, **kwargs):
        archive = Archive(obj["root"], on_wait=lambda msg: click.echo(msg, err=True))
        try:
            return func(archive, *args, **kwargs)
        finally:
            archive.close()
    return wrapper


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2024-03-31") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--archive", "root", type=click.Path(file_okay=False, path_type=Path),
              envvar="ARCHIVER_ARCHIVE", default="archive", show_default=True, show_envvar=True,
              help="The archive folder.")
@click.version_option(__version__, prog_name="archiver")
@click.pass_context
def main(ctx: click.Context, root: Path) -> None:
    """Archive a product's documents, search them and follow their cross-references.

    \b
    Example:
      archiver --archive ~/wx-archive init
      archiver --archive ~/wx-archive ingest ~/inbox
      archiver --archive ~/wx-archive search 'CR-2024-0142 AND approved'
    """
    ctx.obj = {"root": root}


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--products", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A products file to load (see: archiver products import --help).")
@click.option("--catalog", metavar="URL",
              help="A team archive: keep catalog, search and work queue in this PostgreSQL database "
                   "(postgresql://user@host/db); originals stay in DIRECTORY, a folder every machine mounts.")
@click.pass_obj
def init(obj, directory: Path | None, products: Path | None, catalog: str | None) -> None:
    """Create an archive (archive.toml, catalog.sqlite, originals/, index/).

    DIRECTORY defaults to --archive. An existing archive is left as it is.

    \b
    Example:
      archiver init ~/wx-archive --products products.toml
      archiver init /mnt/archive/wx --catalog postgresql://archiver@db.example/wx
    """
    root = directory or obj["root"]
    if catalog is not None and not catalog.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter("must be a postgresql:// URL", param_hint="--catalog")
    existed = (root / "archive.toml").exists()
    Archive.init(root, products=products, catalog=catalog).close()
    click.echo(f"{'Archive already exists' if existed else 'Created archive'} at {root}"
               + (" (team archive: catalog in PostgreSQL)" if catalog else ""))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--no-ocr", is_flag=True, help="Store scans now and leave them waiting for `archiver ocr`.")
@click.option("--queue-only", is_flag=True,
              help="Team archive: store and queue the files, and leave reading them to `archiver worker`.")
@click.option("--fail-on-reject", is_flag=True, help=f"Exit with code {EXIT_REJECTS} when any input was rejected.")
@json_option
@with_archive
def ingest(archive: Archive, paths, no_ocr: bool, queue_only: bool, fail_on_reject: bool, as_json: bool) -> None:
    """Take files and folders (recursively) into the archive, then read their scans.

    Unchanged files are skipped; exact duplicates are recorded as another path
    of the same document; unreadable files are kept and listed by `rejects`.
    Electronic files are searchable before OCR of the scans starts. In a team
    archive each file's reading is a job, which this command runs too (beside
    any workers) unless --queue-only.

    \b
    Example:
      archiver ingest ~/inbox/specs scan-0042.pdf
    """
    from archiver.ingest import own_folders
    from archiver.stages import is_archive_own
    kept = tuple(f.absolute() for f in own_folders(archive.store, archive.config))
    own = [p for p in paths if is_archive_own(p.absolute(), archive.root.absolute(), kept)]
    if queue_only and not archive.team:
        raise click.UsageError("--queue-only is for a team archive (catalog in PostgreSQL), where workers read "
                               "the queue")
    reading = "Reading files and pages" if archive.team else "OCR pages"
    with _progress(not as_json, "Ingesting") as progress, _progress(not as_json, reading) as ocr_progress:
        report = archive.ingest(paths, progress=progress, ocr=False if no_ocr else None,
                                ocr_progress=ocr_progress, queue_only=queue_only)
    for path in own:
        click.secho(f"warning: {output.printable(path)}: skipped, it is the archive's own", fg="yellow",
                    err=True)
    if report.ocr and report.ocr.warning:
        click.secho(f"warning: {report.ocr.warning}", fg="yellow", err=True)
    if as_json:
        output.print_json(report.results)
    else:
        _print_ingest_summary(report.results)
    if fail_on_reject and any(r.status == "rejected" for r in report.results):
        sys.exit(EXIT_REJECTS)


@main.command()
@json_option
@with_archive
def ocr(archive: Archive, as_json: bool) -> None:
    """Read every scanned page that waits for OCR (images, PDF pages without text).

    \b
    Example:
      archiver ocr
    """
    with _progress(not as_json, "OCR pages") as progress:
        report = archive.ocr(progress)
    if as_json:
        output.print_json(report)
        if report.warning:
            sys.exit(EXIT_ERROR)
        return
    if report.warning:
        raise ArchiverError(report.warning)
    click.echo(f"Read {report.pages} page{'s' * (report.pages != 1)} of {report.documents} "
               f"document{'s' * (report.documents != 1)}"
               + (f"; {report.failed_pages} could not be read (see: archiver rejects)" if report.failed_pages else ""))


class _progress:
    """A progress bar on stderr when it is a terminal; a no-op callback otherwise."""

    def __init__(self, enabled: bool, label: str):
        self.enabled = enabled and sys.stderr.isatty()
        self.label = label
        self.bar = None

    def __enter__(self):
        return self.update if self.enabled else None

    def update(self, done: int, total: int, label: str) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr,
                                         show_pos=True, item_show_func=lambda s: s and Path(s).name[:40])
            self.bar.__enter__()
        self.bar.current_item = label
        self.bar.update(done - self.bar.pos)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _print_ingest_summary(results) -> None:
    for r in results:
        if r.status == "rejected":
            click.secho(f"rejected: {output.printable(r.source)}: {output.printable(r.reason)}", fg="red", err=True)
        for w in r.warnings:
            click.secho(f"warning: {output.printable(r.source)}: {output.printable(w)}", fg="yellow", err=True)
    counts = {s: sum(1 for r in results if r.status == s)
              for s in ("indexed", "waiting_ocr", "queued", "duplicate", "unchanged", "rejected")}
    inputs = sum(1 for r in results if r.parent is None)
    attachments = len(results) - inputs
    extra = f" and {attachments} attachment{'s' * (attachments != 1)}" if attachments else ""
    queued = f"{counts['queued']} queued for a worker, " if counts["queued"] else ""
    click.echo(f"{inputs} file{'s' * (inputs != 1)}{extra}: {counts['indexed']} indexed, "
               f"{counts['waiting_ocr']} waiting for OCR, {queued}{counts['duplicate']} duplicate, "
               f"{counts['unchanged']} unchanged, {counts['rejected']} rejected")
    if counts["rejected"]:
        click.echo("See why with: archiver rejects")


@main.command()
@click.argument("query")
@click.option("--format", "formats", multiple=True, metavar="FORMAT",
              type=click.Choice(["pdf", "docx", "text", "markdown", "html", "csv", "email", "image"],
                                case_sensitive=False),
              help="Only this format (pdf, docx, text, markdown, html, csv, email, image); repeatable.")
@click.option("--after", help="Only documents dated on or after this day (YYYY-MM-DD).")
@click.option("--before", help="Only documents dated on or before this day (YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(1, 10_000), help="Most results to show (default 20).")
@click.option("--product", "products", multiple=True, metavar="PRODUCT",
              help="Only documents that mention this product (code, name or alias); repeatable.")
@click.option("--cr", "crs", multiple=True, metavar="ID", help="Only documents that concern this change request.")
@json_option
@with_archive
def search(archive: Archive, query: str, formats, after, before, limit, products, crs, as_json: bool) -> None:
    """Search the archive's text, titles, file names and identifiers.

    Whoosh query syntax: AND, OR, NOT, "exact phrase", field:value (title,
    content, filename, author, format, date), wildcards (approv*), date ranges
    (date:[2024-01-01 TO 2024-06-30]). Identifiers such as CR-2024-0142 or
    SPEC-104 match exactly as written.

    \b
    Example:
      archiver search '"design review" AND WX-100' --after 2024-01-01
    """
    hits, total = archive.search(query, formats=formats, after=_date(after), before=_date(before), limit=limit,
                                 products=products, change_requests=crs)
    if as_json:
        return output.print_json(hits)
    if not hits:
        return click.echo("No documents match.")
    rows = [(h.doc_id, f"{h.score:.2f}", h.format, (h.date or "")[:10], h.title) for h in hits]
    lines = output.table(rows, ["id", "score", "format", "date", "title"], right=(0, 1)).split("\n")
    click.echo(lines[0])
    for line, hit in zip(lines[1:], hits):
        click.echo(line)
        click.echo("    " + output.highlight(output.printable(hit.snippet[:300])))
        if hit.source:
            click.secho(f"    {output.printable(hit.source)}", dim=True)
    click.echo(f"{len(hits)} of {total} matching document{'s' * (total != 1)}")


@main.command()
@click.argument("doc")
@click.option("--text", "full_text", is_flag=True, help="Print the whole extracted text instead.")
@json_option
@with_archive
def show(archive: Archive, doc: str, full_text: bool, as_json: bool) -> None:
    """Show one document: metadata, every path it was seen at, and the start of its text.

    DOC is a document id, a SHA-256 (or a unique prefix of at least 6 characters),
    or a path the document was seen at.

    \b
    Example:
      archiver show 3f2a9c
    """
    if full_text:
        # Pages end with a form feed and a line break; a terminal is shown no control sequence
        # from the document (piped, the text is as extracted).
        text = archive.text(doc).replace("\f", "\f\n")
        return click.echo(output.printable_text(text) if sys.stdout.isatty() else text)
    view = archive.show(doc)
    if as_json:
        return output.print_json(_show_json(view))
    _print_show(view)


def _show_json(view) -> dict:
    d = view.document
    return {
        "doc_id": d.id, "sha256": d.sha256, "title": d.title, "author": d.author, "subject": d.subject,
        "keywords": d.keywords, "created": d.created, "modified": d.modified, "date": d.date,
        "format": d.format, "mime": d.mime, "size": d.size, "pages": d.pages, "filename": d.filename,
        "sources": [{"path": s.path, "size": s.size, "first_seen": s.first_seen, "last_seen": s.last_seen,
                     "status": s.status} for s in view.sources],
        "attachments": [{"doc_id": i, "name": n} for i, n in view.attachments],
        "attached_to": [{"doc_id": i, "name": n} for i, n in view.attached_to],
        "text_length": d.text_length, "state": d.state, "reason": d.reason, "ingested_at": d.ingested_at,
        "ocr": view.ocr, "metadata": d.metadata, "text_start": view.text_start,
        "doc_number": d.doc_number, "revision": d.revision,
        "products": _ref_values(view, "product"), "change_requests": _ref_values(view, "change_request"),
        "cites": _ref_values(view, "doc_number", role="cites"),
        "references": [{"kind": r.kind, "value": r.value, "role": r.role, "revision": r.revision,
                        "evidence": r.evidence, "where": r.where, "context": r.context} for r in view.references],
    }


def _ref_values(view, kind: str, role: str | None = None) -> list[str]:
    values = []
    for r in view.references:
        if r.kind == kind and (role is None or r.role == role):
            value = f"{r.value} Rev {r.revision}" if kind == "doc_number" and r.revision else r.value
            if value not in values:
                values.append(value)
    return values


def _print_show(view) -> None:
    d = view.document
    pairs = [("id", d.id), ("sha256", d.sha256), ("title", d.title), ("author", d.author),
             ("subject", d.subject), ("date", d.date), ("created", d.created), ("modified", d.modified),
             ("number", f"{d.doc_number}" + (f" Rev {d.revision}" if d.revision else "") if d.doc_number else None),
             ("products", ", ".join(_ref_values(view, "product"))),
             ("changes", ", ".join(_ref_values(view, "change_request"))),
             ("cites", ", ".join(_ref_values(view, "doc_number", role="cites"))),
             ("format", f"{d.format} ({d.mime})"), ("size", f"{d.size:,} bytes"), ("pages", d.pages),
             ("state", d.state + (f": {d.reason}" if d.reason else "")), ("text", f"{d.text_length:,} characters")]
    if view.ocr:
        conf = view.ocr["mean_confidence"]
        pairs.append(("ocr", f"{view.ocr['pages']} pages, " + (f"mean confidence {conf}" if conf is not None
                                                                 else "no words could be read")))
    for key, value in pairs:
        if value not in (None, ""):
            click.echo(f"{click.style(f'{key:<9}', bold=True)} {output.printable(value)}")
    click.secho("seen at", bold=True)
    for s in view.sources:
        click.echo(f"  {output.printable(s.path)}" + ("  (gone)" if s.status != "present" else ""))
    for doc_id, name in view.attached_to:
        click.echo(f"  attachment {output.printable(repr(name))} of document {doc_id}")
    if view.attachments:
        click.secho("attachments", bold=True)
        for doc_id, name in view.attachments:
            click.echo(f"  {doc_id:>6}  {output.printable(name)}")
    click.secho("text", bold=True)
    lines = [output.printable(line) for line in view.text_start.strip().split("\n")]
    click.echo("  " + ("\n  ".join(lines) if any(lines) else "(none)"))


@main.command()
@json_option
@with_archive
def status(archive: Archive, as_json: bool) -> None:
    """Show counts by format and state, and the health of the search index.

    \b
    Example:
      archiver status --json
    """
    st = archive.status()
    if as_json:
        return output.print_json({"archive": st.root, **st.totals, "by_format": st.by_format,
                                  "by_state": st.by_state, "unindexed": st.unindexed, "index": st.index,
                                  "low_confidence": [{"doc_id": i, "title": t, "mean_confidence": c}
                                                     for i, t, c in st.low_confidence],
                                  "catalog": st.catalog, "jobs": st.jobs, "jobs_by_kind": st.jobs_by_kind,
                                  "workers": [{"worker": w, "running": n} for w, n in st.workers]})
    states = ["indexed", "waiting_ocr", "rejected"] + (["queued"] if st.by_state.get("queued") else [])
    rows = [[fmt] + [counts.get(s, 0) for s in states] + [sum(counts.values())]
            for fmt, counts in sorted(st.by_format.items())]
    rows.append(["total"] + [st.by_state.get(s, 0) for s in states] + [st.totals["documents"]])
    click.echo(f"Archive {st.root}")
    click.echo(output.table(rows, ["format"] + states + ["all"], right=tuple(range(1, len(states) + 2))))
    click.echo(f"{st.totals['paths']} paths seen, {st.totals['bytes']:,} bytes of originals, "
               f"{st.totals['rejects']} rejects, {st.totals['audit_events']} audit events")
    click.echo(f"search index: {st.index}" + (f", {st.unindexed} documents not yet indexed" if st.unindexed else ""))
    if st.catalog != "sqlite":
        click.echo(f"catalog: {st.catalog} (team archive)")
    names = {"extract": "reading files", "ocr": "OCR of pages"}
    kinds = [f"{names.get(kind, kind)}: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n)
             for kind, counts in (st.jobs_by_kind or {}).items() if any(counts.values())]
    if kinds:
        click.echo("jobs: " + "; ".join(kinds)
                   + (f"; workers: {', '.join(f'{w} ({n})' for w, n in st.workers)}" if st.workers else ""))
    if st.low_confidence:
        click.secho("low OCR confidence:", bold=True)
        for doc_id, title, conf in st.low_confidence:
            click.echo(f"  {doc_id:>6}  {conf:5.1f}  {title}")


@main.command()
@json_option
@with_archive
def rejects(archive: Archive, as_json: bool) -> None:
    """List the inputs that could not be read, and why (their originals are kept).

    \b
    Example:
      archiver rejects
    """
    items = archive.rejects()
    if as_json:
        return output.print_json(items)
    if not items:
        return click.echo("No rejects.")
    click.echo(output.table([(r.at[:19].replace("T", " "), r.doc_id, r.path, r.reason) for r in items],
                            ["when", "doc", "path", "reason"], right=(1,)))


@main.command()
@json_option
@with_archive
def reindex(archive: Archive, as_json: bool) -> None:
    """Rebuild the search index from the catalog alone (no file is read again).

    \b
    Example:
      archiver reindex
    """
    count = archive.reindex()
    if as_json:
        return output.print_json({"indexed": count})
    click.echo(f"Rebuilt the search index: {count} documents")


from archiver import cli_xref  # noqa: E402,F401  (registers the cross-reference commands)
from archiver import cli_export  # noqa: E402,F401  (registers export and verify)
from archiver import cli_file  # noqa: E402,F401  (registers the file command)
from archiver import cli_watch  # noqa: E402,F401  (registers the watch command)
from archiver import cli_team  # noqa: E402,F401  (registers worker and migrate-catalog)

if __name__ == "__main__":  # pragma: no cover
    # Run through the package module, where every command group is registered.
    from archiver.__main__ import main as _main  # noqa: F401  (running it is the import's effect)
