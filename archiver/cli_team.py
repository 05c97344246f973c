"""Add the team-archive commands to the CLI: `worker` (run queued jobs) and `migrate-catalog`."""
from __future__ import annotations

import json

import click

from archiver import output
from archiver.archive import Archive
from archiver.cli import json_option, main, with_archive


@main.command()
@click.option("--until-empty", is_flag=True, help="Exit once no job is left to take (for cron or a batch).")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="Jobs run at once on this machine (default: ingest.workers, 0 = one per core).")
@json_option
@with_archive
def worker(archive: Archive, until_empty: bool, processes: int | None, as_json: bool) -> None:
    """Run queued jobs on this machine: read files, OCR scanned pages; stop with Ctrl-C or SIGTERM.

    A team archive's ingest stores each file and queues the reading of its
    text as a job, and every scanned page as an OCR job; run one worker per
    machine that mounts the archive folder (as a systemd service, see README).
    A job whose worker died is taken again when its lease runs out. Works on an
    embedded archive too, for pages left by `ingest --no-ocr`. Prints one line
    per job (--json: one JSON object per line).

    \b
    Example:
      archiver --archive /mnt/archive/wx worker
      archiver worker --until-empty --json
    """
    from archiver.watch_process import shield_workers_from_ctrl_c, stop_on_signals
    shield_workers_from_ctrl_c()
    stopping = []

    def progress(report, label: str, kind: str) -> None:
        if as_json:
            click.echo(json.dumps({"event": "page" if kind == "ocr" else "file", "what": label,
                                   "files": report.files, "rejected": report.rejected, "pages": report.pages,
                                   "failed_pages": report.failed_pages, "documents": report.documents}))
        else:
            click.echo(f"{'read' if kind == 'ocr' else 'took in'} {label} ({_counts(report)})")

    with stop_on_signals(lambda: stopping.append(True), lambda: bool(stopping)):
        report = archive.work(until_empty=until_empty, processes=processes, progress=progress,
                              should_stop=lambda: bool(stopping))
    summary = {"event": "stopped", "worker": report.worker, "files": report.files, "rejected": report.rejected,
               "pages": report.pages, "failed_pages": report.failed_pages, "documents": report.documents,
               "lost": report.lost, "warning": report.warning}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        if report.warning:
            click.secho(f"warning: {report.warning}", fg="yellow", err=True)
        click.echo(f"worker {report.worker}: {_counts(report)}")
    if report.warning:
        raise SystemExit(1)


def _counts(report) -> str:
    plural = lambda n, word: f"{n} {word}{'s' * (n != 1)}"  # noqa: E731
    return (f"{plural(report.files, 'file')} read ({report.rejected} rejected), "
            f"{plural(report.pages, 'page')} OCR'd ({report.failed_pages} failed), "
            f"{plural(report.documents, 'document')} finished")


@main.command("migrate-catalog")
@click.option("--to", "url", required=True, metavar="URL", help="The PostgreSQL database to move the catalog to.")
@json_option
@with_archive
def migrate_catalog(archive: Archive, url: str, as_json: bool) -> None:
    """Move this archive's catalog from catalog.sqlite to PostgreSQL (a team archive).

    Copies every table, checks row counts and content digests of each table in
    both databases, builds the PostgreSQL search index, then points
    archive.toml at URL and keeps the old file as catalog.sqlite.migrated.
    The target database must be empty. Originals are not touched.

    \b
    Example:
      archiver migrate-catalog --to postgresql://archiver@db.example/wx
    """
    if not url.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter("must be a postgresql:// URL", param_hint="--to")
    result = archive.migrate_catalog(url)
    if as_json:
        return output.print_json(result)
    rows = [[t["table"], t["rows"], "yes" if t["same"] else "NO"] for t in result["tables"]]
    click.echo(output.table(rows, ["table", "rows", "identical"], right=(1,)))
    click.echo(f"Moved the catalog to {result['catalog']}; indexed {result['indexed']} documents for search; "
               f"the old catalog is kept as {result['kept']}")
