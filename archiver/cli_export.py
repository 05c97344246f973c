"""Add the evidence commands to the CLI: export (a verifiable bundle) and verify (a bundle, or the archive)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from archiver import output
from archiver.archive import Archive
from archiver.cli import EXIT_ERROR, json_option, main, with_archive


@main.command()
@click.argument("id", required=False)
@click.option("--query", help="Export the documents matching a search query instead.")
@click.option("--product", help="Export the documents that mention a product (code, name or alias).")
@click.option("--cr", help="Export the documents that concern a change request.")
@click.option("--after", help="Only documents dated on or after this day (YYYY-MM-DD).")
@click.option("--before", help="Only documents dated on or before this day (YYYY-MM-DD).")
@click.option("--related", type=click.IntRange(1, 6), help="Add the documents up to this many links away.")
@click.option("--out", type=click.Path(path_type=Path), help="The bundle to write (a folder, or a .zip).")
@click.option("--zip", "as_zip", is_flag=True, help="Write the bundle as one .zip file.")
@click.option("--dry-run", is_flag=True, help="List what would be exported; write nothing.")
@json_option
@with_archive
def export(archive: Archive, id, query, product, cr, after, before, related, out, as_zip, dry_run,
           as_json: bool) -> None:
    """Write a verifiable evidence bundle (BagIt) of a change request, product, document number or document.

    ID is a change request, product, document number or document; or name the
    selection with --query, --product or --cr. Each e-mail's attachments and
    each attachment's e-mail are always included. The bundle holds the
    originals, their text, load files (DAT, CSV, JSON), the chain of custody,
    a timeline, the cross-references, a hash-verification statement and
    index.html; anyone can check it with `archiver verify` or bagit.py.

    \b
    Example:
      archiver export CR-2024-0142 --out cr-0142-bundle --zip
      archiver export --product WX-100 --after 2024-01-01 --dry-run
    """
    if sum(v is not None for v in (id, query, product, cr)) != 1:
        raise click.UsageError("name exactly one selection: an ID, --query, --product or --cr")
    if not dry_run and out is None:
        raise click.UsageError("say where to write the bundle: --out PATH (or list it with --dry-run)")
    from archiver.export import Request
    request = Request(id=id, query=query, product=product, cr=cr, after=after, before=before, related=related or 0)
    result = archive.export(request, out, as_zip=as_zip, dry_run=dry_run)
    if as_json:
        return output.print_json(result)
    cn = result.control_numbers
    summary = (f"{result.documents} document{'s' * (result.documents != 1)} ({cn['first']} to {cn['last']}): "
               f"{result.selection}")
    if dry_run:
        rows = [(r["control_number"], r["doc_id"], f"  in {r['parent']}" if r["parent"] else "",
                 (r["date"] or "")[:10], r["title"]) for r in result.items]
        click.echo(output.table(rows, ["control", "doc", "family", "date", "title"], right=(1,)))
        return click.echo(f"Would export {summary}")
    click.echo(f"Exported {summary}\nto {result.out}\nmanifest-sha256.txt SHA-256: {result.manifest_sha256}")


@main.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@json_option
def verify(path: Path | None, as_json: bool) -> None:
    """Check a bundle (every hash, nothing missing or extra, load files), or without PATH the archive.

    For the archive: every original's SHA-256, the hash chain of the audit log,
    and that every document has its original and every original its document.
    Prints one line per problem and exits with 1 when there is any.

    \b
    Example:
      archiver verify cr-0142-bundle.zip
      archiver verify
    """
    from archiver.verify import verify_bundle
    report = verify_bundle(path) if path is not None else _verify_archive()
    if as_json:
        output.print_json(report)
    else:
        for p in report.problems:
            click.echo(f"{p.item}: {p.problem}")
        checked = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.checked.items() if isinstance(v, int))
        click.echo(("OK: " if report.ok else f"FAILED, {len(report.problems)} problems: ") + f"checked {checked}",
                   err=not report.ok)
    if not report.ok:
        sys.exit(EXIT_ERROR)


@with_archive
def _verify_archive(archive: Archive):
    return archive.verify()
