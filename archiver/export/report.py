"""Render a bundle's report for people: index.html (no network, no scripts) and the SVG graph picture."""
from __future__ import annotations

import html
import re
from urllib.parse import quote

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
KIND_COLOURS = {"document": "#4e79a7", "change_request": "#e15759", "product": "#59a14f", "doc_number": "#b07aa1"}
KIND_WORDS = {"document": "document", "change_request": "change request", "product": "product",
              "doc_number": "document number"}
RELATION_COLOURS = {"mentions": "#59a14f", "concerns": "#e15759", "cites": "#b07aa1", "is": "#9c755f",
                    "supersedes": "#f28e2b", "attachment_of": "#4e79a7", "replies_to": "#76b7b2",
                    "affects": "#edc948", "version_of": "#bab0ac"}
ROW, TOP, DOC_X, PORT_X, REF_X, WIDTH = 24, 70, 70, 470, 640, 900
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#222;max-width:80rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.25rem .5rem;
vertical-align:top;border-bottom:1px solid #eee}th{background:#f4f4f4}table.kv th{width:14rem}
code{font-size:.85rem;word-break:break-all}tr.child td:first-child{padding-left:1.5rem}
img{max-width:100%;height:auto;border:1px solid #ddd}
#documents-table td:nth-child(-n+3),#timeline td:nth-child(-n+3){white-space:nowrap}
td.native{word-break:break-all;max-width:22rem}
"""


def esc(text) -> str:
    """Escape text for HTML and XML, dropping characters XML cannot hold."""
    return html.escape(_NOT_XML.sub("", "" if text is None else str(text)), quote=True)


def href(path: str) -> str:
    """Return a relative link to a bundle file, percent-encoded."""
    return esc(quote(path, safe="/"))


def index_html(summary: dict, items, timeline: list[dict], files: dict[str, str]) -> str:
    """Return the bundle's report: summary, timeline, documents table with links, the graph picture."""
    title = f"Evidence bundle: {summary['selection']}"
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        f"<h1>Evidence bundle</h1>\n<p>{esc(summary['selection'])}</p>\n",
        _summary_section(summary, files), _timeline_section(timeline), _documents_section(items),
        '<section id="graph">\n<h2>Cross-references</h2>\n<p>The selected documents, what they refer to, '
        f'and the links among them (also as <a href="{href(files["graphml"])}">GraphML</a> for yEd or Gephi).</p>\n'
        f'<img src="{href(files["svg"])}" alt="Cross-reference graph of the selected documents">\n</section>\n',
        "</body>\n</html>\n",
    ]
    return "".join(parts)


def _summary_section(summary: dict, files: dict[str, str]) -> str:
    head = summary["audit_head"]
    cn = summary["control_numbers"]
    rows = [
        ("Selection", esc(summary["selection"])),
        ("Documents", f"{summary['documents']} ({esc(cn['first'])} to {esc(cn['last'])})"),
        ("E-mail families", str(len(summary["families"]))),
        ("Audit-log head", f"entry {head['id']}, <code>{esc(head['hash'])}</code>" if head else "none"),
        ("Load files", " ".join(f'<a href="{href(files[k])}">{esc(files[k])}</a>' for k in ("dat", "csv", "json"))),
        ("Records", " ".join(f'<a href="{href(files[k])}">{esc(files[k])}</a>'
                             for k in ("custody", "timeline", "summary", "graphml"))),
        ("Checking", f'<a href="{href(files["statement"])}">{esc(files["statement"])}</a>: how to re-check '
                     "every hash with standard tools"),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>\n" for k, v in rows)
    return f'<section id="summary">\n<h2>Summary</h2>\n<table class="kv">\n{body}</table>\n</section>\n'


def _timeline_section(entries: list[dict]) -> str:
    rows = []
    for e in entries:
        event = f"{e['change_request']} {e['step']}" if e["type"] == "step" else "document"
        rows.append(f"<tr><td>{esc((e['date'] or 'undated')[:10])}</td><td>{esc(event)}</td>"
                    f"<td>{esc(e['control_number'])}</td><td>{esc(e['title'])}</td></tr>\n")
    return ('<section id="timeline">\n<h2>Timeline</h2>\n<table>\n<thead><tr><th>Date</th><th>Event</th>'
            f"<th>Control number</th><th>Title</th></tr></thead>\n<tbody>\n{''.join(rows)}</tbody>\n</table>\n"
            "</section>\n")


def _documents_section(items) -> str:
    rows = []
    for i in items:
        d = i.doc
        family = f"attachment of {i.parent}" if i.parent else (
            f"e-mail with {len(i.attachments)} attachment{'s' * (len(i.attachments) != 1)}" if i.attachments else "")
        css = ' class="child"' if i.parent else ""
        rows.append(
            f'<tr{css} id="{esc(i.control_number)}"><td>{esc(i.control_number)}</td>'
            f"<td>{esc(family)}</td><td>{esc((d.date or '')[:10])}</td><td>{esc(d.title or i.name)}</td>"
            f'<td>{esc(d.format)}</td><td>{d.size:,}</td><td><code title="{esc(d.sha256)}">{esc(d.sha256[:16])}…</code></td>'
            f'<td class="native"><a href="{href(i.native)}">{esc(i.native.partition("/")[2])}</a></td>'
            f'<td><a href="{href(i.text)}">text</a></td></tr>\n')
    return ('<section id="documents">\n<h2>Documents</h2>\n<table id="documents-table">\n<thead><tr>'
            "<th>Control number</th><th>Family</th><th>Date</th><th>Title</th><th>Format</th><th>Bytes</th>"
            f"<th>SHA-256</th><th>Native</th><th>Text</th></tr></thead>\n<tbody>\n{''.join(rows)}</tbody>\n"
            "</table>\n</section>\n")


# -- the graph picture -------------------------------------------------------------------


def svg(nodes, edges) -> str:
    """Return an SVG picture: documents in a column on the left, what they refer to on the right."""
    docs = [n for n in nodes if n.kind == "document"]
    refs = [n for n in nodes if n.kind != "document"]
    pos = {n.id: (DOC_X, TOP + i * ROW) for i, n in enumerate(docs)}
    pos.update({n.id: (REF_X, TOP + i * ROW) for i, n in enumerate(refs)})
    height = TOP + max(len(docs), len(refs), 1) * ROW + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">\n',
           f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>\n', _legend(nodes, edges)]
    out += [_edge(e, pos) for e in edges if e.source in pos and e.target in pos]
    for n in nodes:
        x, y = pos[n.id]
        text = f"{n.label}  {n.title}" if n.kind == "document" else (
            n.label if n.title == n.label else f"{n.label} ({n.title})")
        out.append(f'<g><title>{esc(KIND_WORDS.get(n.kind, n.kind))}: {esc(n.title)}</title>'
                   f'<circle cx="{x}" cy="{y}" r="6" fill="{KIND_COLOURS.get(n.kind, "#999")}"/>'
                   f'<text x="{x + 12}" y="{y + 4}">{esc(_cut(text, 55 if n.kind == "document" else 38))}</text>'
                   "</g>\n")
    out.append("</svg>\n")
    return "".join(out)


def _legend(nodes, edges) -> str:
    kinds = sorted({n.kind for n in nodes}, key=list(KIND_COLOURS).index)
    relations = sorted({e.relation for e in edges})
    parts, x = [], 10
    for kind in kinds:
        parts.append(f'<circle cx="{x + 5}" cy="16" r="5" fill="{KIND_COLOURS[kind]}"/>'
                     f'<text x="{x + 14}" y="20">{esc(KIND_WORDS[kind])}</text>')
        x += 30 + 7 * len(KIND_WORDS[kind])
    x = 10
    for rel in relations:
        parts.append(f'<line x1="{x}" y1="40" x2="{x + 20}" y2="40" stroke="{RELATION_COLOURS.get(rel, "#999")}" '
                     f'stroke-width="2"/><text x="{x + 25}" y="44">{esc(rel)}</text>')
        x += 35 + 7 * len(rel)
    return "<g>" + "".join(parts) + "</g>\n"


def _edge(e, pos) -> str:
    (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
    if x1 == DOC_X and x2 == REF_X:
        d = f"M{PORT_X},{y1} C{PORT_X + 80},{y1} {REF_X - 80},{y2} {REF_X - 7},{y2}"
    elif x1 == x2:                        # within a column: an arc on its left
        bend = x1 - 10 - min(60, 6 + abs(y2 - y1) // 6)
        d = f"M{x1 - 7},{y1} C{bend},{y1} {bend},{y2} {x2 - 7},{y2}"
    else:
        d = f"M{x1},{y1} L{x2},{y2}"
    colour = RELATION_COLOURS.get(e.relation, "#999")
    return (f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.5" opacity="0.8">'
            f"<title>{esc(e.relation)}: {esc(e.evidence)}</title></path>\n")


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
