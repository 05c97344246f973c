"""Print for people (aligned tables, colour on a terminal) and for programs (stable JSON)."""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from typing import Any, Sequence

import click


def to_jsonable(value: Any) -> Any:
    """Turn records (dataclasses, tuples) into JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """Print a value as indented JSON with a trailing newline."""
    click.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


# Control characters (an ESC that would retitle the terminal, a newline in a file name) and
# the bidirectional overrides that reorder what follows them.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value: Any) -> str:
    """Return a value as one line of text for a person, its control characters shown as escapes (\\x1b)."""
    text = "" if value is None else str(value)
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                            else f"\\u{ord(m.group()):04x}", text)


def printable_text(text: str) -> str:
    """Return a document's text for a terminal: line breaks, tabs and page breaks kept, other controls escaped."""
    return "\n".join("\t".join("\f".join(printable(piece) for piece in part.split("\f"))
                                for part in line.split("\t")) for line in text.split("\n"))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], right: Sequence[int] = ()) -> str:
    """Return rows as an aligned plain-text table; the last column is cut to the terminal width."""
    cells = [[printable(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    # Cut the last column to the terminal's width only on a terminal; piped output stays whole.
    term = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else 1 << 16
    used = sum(widths[:-1]) + 2 * (len(widths) - 1)
    widths[-1] = max(len(headers[-1]), min(widths[-1], term - used)) if used < term else widths[-1]

    def line(values: Sequence[str], style: bool = False) -> str:
        parts = []
        for i, v in enumerate(values):
            v = v if len(v) <= widths[i] else v[: max(1, widths[i] - 1)] + "…"
            parts.append(v.rjust(widths[i]) if i in right else v.ljust(widths[i]))
        text = "  ".join(parts).rstrip()
        return click.style(text, bold=True) if style else text

    return "\n".join([line(headers, style=True)] + [line(r) for r in cells])


def highlight(snippet: str) -> str:
    """Render a snippet's **marks** in bold for a terminal (click strips it when piped)."""
    parts = snippet.split("**")
    return "".join(click.style(p, bold=True, fg="yellow") if i % 2 else p for i, p in enumerate(parts))
