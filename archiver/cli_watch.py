"""Add the `watch` command to the CLI: keep taking files in from inbox folders."""
from __future__ import annotations

import json
from pathlib import Path

import click

from archiver.archive import Archive
from archiver.cli import json_option, main, with_archive


class _Seconds(click.ParamType):
    """A number of seconds > 0 for --polling, whose value is optional."""

    name = "seconds"

    def convert(self, value, param, ctx):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds (put --polling after the inbox folders, "
                      "or write --polling=SECONDS)", param, ctx)
        if seconds < 0:
            self.fail(f"{value!r} must not be negative", param, ctx)
        return seconds


@main.command()
@click.argument("inboxes", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="Take what the inboxes hold now, then exit (for cron).")
@click.option("--polling", metavar="[SECONDS]", type=_Seconds(), is_flag=False, flag_value=0.0, default=None,
              help="Poll every SECONDS instead of using the system's events (network shares); "
                   "without a value: watch.polling_interval.")
@click.option("--move-to", type=click.Path(file_okay=False, path_type=Path),
              help="Move each file, once committed, into this folder (keeping its path below the inbox).")
@json_option
@with_archive
def watch(archive: Archive, inboxes, once: bool, polling: float | None, move_to: Path | None, as_json: bool) -> None:
    """Watch inbox folders and take in every file once it is complete; stop with Ctrl-C or SIGTERM.

    INBOXES default to the setting `inboxes` of archive.toml. On start, files
    not yet in the archive (or changed since) are taken first. Prints one line
    per file (--json: one JSON object per line). One watcher per archive.

    \b
    Example:
      archiver watch ~/scans ~/mail-drop
      archiver watch /mnt/share/inbox --polling 60
      archiver watch --once --json
    """
    from archiver.watch import Watcher, WatchOptions, stop_on_signals
    options = WatchOptions.from_config(archive, inboxes, polling=polling, once=once, move_to=move_to)
    watcher = Watcher(archive, options, lambda event: _print(event, as_json))
    with stop_on_signals(watcher.stop, lambda: watcher.stopping):
        watcher.run()


def _print(event, as_json: bool) -> None:
    if as_json:
        row = {"time": event.time, "event": event.event, "path": event.path, "status": event.status,
               "doc_id": event.doc_id, "reason": event.reason, **event.extra}
        return click.echo(json.dumps(row, ensure_ascii=False))
    if event.event == "warning":
        return click.secho(f"warning: {event.reason}", fg="yellow", err=True)
    if event.event == "started":
        return click.echo(f"{event.time}  watching  {', '.join(event.extra['inboxes'])}  ({event.extra['mode']})")
    parts = [event.time, event.status or event.event]
    if event.doc_id is not None:
        parts.append(f"doc {event.doc_id}")
    if event.path:
        parts.append(event.path + (f" -> {event.extra['to']}" if "to" in event.extra else ""))
    if event.reason:
        parts.append(f"({event.reason})")
    click.echo("  ".join(parts))
