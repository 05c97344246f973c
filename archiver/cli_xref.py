"""Add the cross-reference commands to the CLI: products, cr, related, path, timeline, graph."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from archiver import output
from archiver.archive import Archive
from archiver.cli import json_option, main, with_archive

RELATIONS = ("mentions", "concerns", "cites", "is", "supersedes", "attachment_of", "replies_to", "affects",
             "version_of")


@main.group(invoke_without_command=True)
@json_option
@click.pass_context
def products(ctx: click.Context, as_json: bool) -> None:
    """List the product registry with the number of documents that mention each product.

    \b
    Example:
      archiver products
      archiver products import products.toml
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(_list_products, as_json=as_json)


@with_archive
def _list_products(archive: Archive, as_json: bool) -> None:
    rows = archive.products()
    if as_json:
        return output.print_json([{"code": p.code, "name": p.name, "aliases": list(p.aliases), "documents": n}
                                  for p, n in rows])
    if not rows:
        return click.echo("No products; add them with: archiver products import FILE")
    click.echo(output.table([(p.code, p.name, ", ".join(p.aliases), n) for p, n in rows],
                            ["code", "name", "aliases", "documents"], right=(3,)))


@products.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@with_archive
def products_import(archive: Archive, file: Path, as_json: bool) -> None:
    """Add or update products from a TOML file and re-link every document from its stored text.

    \b
    The file holds one table per product:
      [[products]]
      code = "WX-100"
      name = "Widget X"
      aliases = ["Widget-X", "WX100"]
    """
    added, changed = archive.import_products(file)
    if as_json:
        return output.print_json({"added": added, "changed": changed})
    click.echo(f"{added} product{'s' * (added != 1)} added, {changed} changed"
               + ("; documents re-linked" if added or changed else ""))


@main.group()
def cr() -> None:
    """Change requests (and change orders) and their lifecycle as the papers show it."""


@cr.command("list")
@json_option
@with_archive
def cr_list(archive: Archive, as_json: bool) -> None:
    """List every change request the documents mention, with its state.

    \b
    Example:
      archiver cr list
    """
    rows = archive.change_requests()
    if as_json:
        return output.print_json(rows)
    if not rows:
        return click.echo("No change requests found.")
    click.echo(output.table([(r["id"], r["state"], (r["last_step_date"] or "")[:10], r["documents"],
                              ", ".join(r["products"])) for r in rows],
                            ["id", "state", "date", "documents", "products"], right=(3,)))


@cr.command("show")
@click.argument("id")
@json_option
@with_archive
def cr_show(archive: Archive, id: str, as_json: bool) -> None:
    """Show one change request: affected products, lifecycle steps with dates, and its documents.

    \b
    Example:
      archiver cr show CR-2024-0142
    """
    record = archive.change_request(id)
    if as_json:
        return output.print_json(record)
    click.secho(f"{record.id}  ({record.state})", bold=True)
    click.echo("products: " + (", ".join(p["code"] for p in record.products) or "none found"))
    click.secho("lifecycle", bold=True)
    steps = [((s["date"] or "")[:10], s["step"], s["doc_id"], s["evidence"]) for s in record.steps]
    click.echo(output.table(steps, ["date", "step", "doc", "evidence"], right=(2,)) if steps else "  none found")
    click.secho("documents", bold=True)
    click.echo(output.table([(d["doc_id"], (d["date"] or "")[:10], d["format"], d["title"])
                             for d in record.documents], ["doc", "date", "format", "title"], right=(0,)))


@main.command()
@click.argument("id")
@click.option("--depth", type=click.IntRange(1, 6), default=1, show_default=True, help="How many links away.")
@click.option("--relation", "relations", multiple=True, type=click.Choice(RELATIONS),
              help="Follow only links of this kind; repeatable.")
@json_option
@with_archive
def related(archive: Archive, id: str, depth: int, relations, as_json: bool) -> None:
    """List what is connected to a document, product, change request or document number.

    ID is a document (id, SHA-256 prefix or path), a product code, name or alias,
    a change request id (CR-2024-0142) or a document number (SPEC-104).

    \b
    Example:
      archiver related CR-2024-0142 --depth 2
    """
    result = archive.related(id, depth, tuple(relations))
    if as_json:
        return output.print_json(result)
    click.secho(f"{result.kind} {result.id}: {result.title}", bold=True)
    if not result.neighbours:
        return click.echo("Nothing is connected.")
    rows = [(n.distance, _arrow(n.relation, n.direction), n.kind, n.id, (n.date or "")[:10], n.title,
             n.evidence) for n in result.neighbours]
    click.echo(output.table(rows, ["hops", "relation", "kind", "id", "date", "title", "evidence"], right=(0,)))


def _arrow(relation: str, direction: str) -> str:
    return f"{relation} ->" if direction == "out" else f"<- {relation}"


@main.command()
@click.argument("a")
@click.argument("b")
@json_option
@with_archive
def path(archive: Archive, a: str, b: str, as_json: bool) -> None:
    """Show how two things are connected, link by link.

    \b
    Example:
      archiver path SPEC-104 WX-200
    """
    steps = archive.path(a, b)
    if as_json:
        return output.print_json(steps)
    if not steps:
        return click.echo("They are the same.")
    click.echo(f"{steps[0]['from_kind']} {steps[0]['from']}: {steps[0]['from_title']}")
    for s in steps:
        click.echo(f"  {_arrow(s['relation'], s['direction'])} {s['to_kind']} {s['to']}: {s['to_title']}")


@main.command()
@click.argument("id")
@json_option
@with_archive
def timeline(archive: Archive, id: str, as_json: bool) -> None:
    """List the dated documents and lifecycle steps of a change request, product or document number.

    \b
    Example:
      archiver timeline CR-2024-0142
    """
    entries = archive.timeline(id)
    if as_json:
        return output.print_json(entries)
    rows = [((e.date or "undated")[:10], e.step and f"{e.change_request} {e.step}" or "document", e.doc_id,
             e.title) for e in entries]
    click.echo(output.table(rows, ["date", "event", "doc", "title"], right=(2,)) if rows else "Nothing dated.")


@main.group()
def graph() -> None:
    """The cross-reference graph as a whole."""


@graph.command("export")
@click.option("--format", "fmt", type=click.Choice(["graphml", "gexf", "json", "dot"]), default="graphml",
              show_default=True, help="GraphML (yEd), GEXF (Gephi), node-link JSON, or DOT (Graphviz).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@json_option
@with_archive
def graph_export(archive: Archive, fmt: str, out: Path | None, as_json: bool) -> None:
    """Write the cross-reference graph for other tools.

    \b
    Example:
      archiver graph export --format gexf --out archive.gexf
    """
    stats = archive.export_graph(fmt, out if out else sys.stdout.buffer)
    if out is None:
        return
    if as_json:
        return output.print_json({"out": str(out.absolute()), "format": fmt, **stats})
    click.echo(f"Wrote {stats['nodes']} nodes and {stats['edges']} edges to {out}", err=True)
