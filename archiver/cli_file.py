"""Add the `file` command to the CLI: bring the filed tree in line with the rules, or explain them."""
from __future__ import annotations

import click

from archiver import output
from archiver.archive import Archive
from archiver.cli import json_option, main, with_archive

_DONE = {"add": "added", "move": "moved", "replace": "replaced", "remove": "removed"}


@main.command("file")
@click.option("--dry-run", is_flag=True, help="Show what would change, and change nothing.")
@click.option("--explain", metavar="DOC", help="Say which rule files DOC where, and why the others do not.")
@json_option
@with_archive
def file_(archive: Archive, dry_run: bool, explain: str | None, as_json: bool) -> None:
    """File every document into the filed tree by the rules in archive.toml.

    The tree is derived from the catalog: entries move when rules or metadata
    change, stale ones go, originals are never touched, and files a person put
    into the tree are reported, never deleted. New documents are filed as they
    are ingested.

    \b
    Example:
      archiver file --dry-run
      archiver file --explain 12
    """
    if explain is not None:
        found = archive.explain_filing(explain)
        return output.print_json(_explain_json(found)) if as_json else _print_explain(found)
    report = archive.file(dry_run=dry_run)
    if as_json:
        return output.print_json(_report_json(report))
    _print_report(report)


def _report_json(report) -> dict:
    return {
        "root": report.root, "mode": report.mode, "dry_run": report.dry_run,
        "actions": [{"action": a.action, "path": a.path, "doc_id": a.doc_id, "rule": a.rule, "from": a.source}
                    for a in report.actions],
        "hand_placed": [{"path": p.path, "reason": p.reason, "doc_id": p.doc_id} for p in report.hand_placed],
        "blocked": [{"path": p.path, "reason": p.reason, "doc_id": p.doc_id} for p in report.blocked],
        "errors": [{"path": p.path, "reason": p.reason, "doc_id": p.doc_id} for p in report.errors],
        "summary": report.summary(),
    }


def _explain_json(found) -> dict:
    return {"doc_id": found.doc_id, "title": found.title, "rule": found.rule,
            "rules": [{"name": v.name, "matched": v.matched, "used": v.used, "reasons": list(v.reasons)}
                      for v in found.rules],
            "paths": list(found.paths), "filed": list(found.filed)}


def _print_report(report) -> None:
    rows = [(a.action, a.doc_id, a.path + (f"  (from {a.source})" if a.source else "")) for a in report.actions]
    if rows:
        click.echo(output.table(rows, ["action", "doc", "path"], right=(1,)))
    s = report.summary()
    if report.dry_run:
        would = ", ".join(f"{k} {s[k]}" for k in _DONE)
        click.echo(f"Dry run, nothing changed: would {would}; {s['unchanged']} unchanged.")
    else:
        done = ", ".join(f"{s[k]} {word}" for k, word in _DONE.items())
        click.echo(f"Filed {s['documents']} documents as {s['entries']} entries in {report.root}: {done}, "
                   f"{s['unchanged']} unchanged.")
    for title, problems in (("Not filed, something is in the way:", report.blocked),
                            ("Left alone, not placed by archiver (or changed since):", report.hand_placed)):
        if problems:
            click.secho(title, fg="yellow")
            for p in problems:
                click.echo(f"  {p.path}  ({p.reason})")
    for p in report.errors:
        click.secho(f"error: {p.path}: {p.reason}", fg="red", err=True)


def _print_explain(found) -> None:
    click.echo(f"Document {found.doc_id} ({found.title}) is filed by rule {found.rule!r}.")
    for v in found.rules:
        state = "matches" + (" (used)" if v.used else " (not used: an earlier rule matched)") \
            if v.matched else "does not match"
        click.secho(f"  {v.name}: {state}", bold=v.used)
        for reason in v.reasons:
            click.echo(f"    - {reason}")
    click.echo("Paths:")
    for path in found.paths:
        click.echo(f"  {path}")
    if set(found.filed) != set(found.paths):
        click.echo("Filed now at (run `archiver file` to update):")
        for path in found.filed or ["(nowhere)"]:
            click.echo(f"  {path}")
