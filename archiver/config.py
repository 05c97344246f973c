"""Load, check and write archive.toml through one table of documented settings."""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from archiver.errors import ConfigError
from archiver.filing import rules as filing_rules


@dataclass(frozen=True)
class Setting:
    """One setting of archive.toml: its dotted name, default, help text and optional extra check.

    ``check(value)`` raises ConfigError (or ValueError, with a one-line message)
    when a value of the right type is still wrong.
    """

    name: str
    default: Any
    help: str
    check: Callable[[Any], None] | None = None


def _patterns(value: list) -> None:
    for pattern in value:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("must be a list of non-empty strings")
        try:
            groups = re.compile(pattern).groupindex
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc
        if "number" not in groups:
            raise ValueError(f"{pattern!r} needs a group (?P<number>...)")


def _export_prefix(value: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_]{0,19}", value):
        raise ValueError("must be 1 to 20 letters, digits or underscores, e.g. ARC")


def _export_digits(value: int) -> None:
    if not 4 <= value <= 12:
        raise ValueError("must be from 4 to 12")


def _export_profile(value: str) -> None:
    if value not in ("edrm", "doj"):
        raise ValueError("must be edrm or doj")


def _export_fields(value: dict) -> None:
    for key, name in value.items():
        if not isinstance(name, str) or not re.fullmatch(r"[^\x00-\x1f\x7f\u00fe\u00ae]+", name):
            raise ValueError(f"{key}: the new name must be a non-empty string without control characters, þ or ®")


def _catalog_url(value: str) -> None:
    if value and not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("must be empty (catalog.sqlite in the archive folder) or a postgresql:// URL")


SETTINGS: tuple[Setting, ...] = (
    Setting("inboxes", ["inbox"],
            "Inbox folders the watcher takes files from (relative to the archive folder or absolute)."),
    Setting("ingest.workers", 0,
            "Worker processes for extraction and OCR; 0 means one per CPU core."),
    Setting("ingest.timeout", 120,
            "Wall-time limit in seconds for extracting one file; past it the file is rejected."),
    Setting("ingest.memory_limit_mb", 2048,
            "Address-space limit in MiB of each extraction worker process."),
    Setting("ingest.batch_size", 1000,
            "Documents committed to the search index at a time."),
    Setting("ingest.max_image_pixels", 200_000_000,
            "Largest image (width x height) accepted; larger ones are rejected as decompression bombs."),
    Setting("ingest.max_inflated_mb", 500,
            "Largest total uncompressed size in MiB of a DOCX (zip) before it is rejected as a zip bomb."),
    Setting("lock.timeout", 300,
            "Seconds a writing command waits for another writer to finish before giving up."),
    Setting("watch.settle", 2.0,
            "Seconds a file's size and modification time must hold still before the watcher takes it "
            "(after a close-write event, a short confirmation is enough)."),
    Setting("watch.polling_interval", 30.0,
            "Seconds between scans of the inboxes with `watch --polling` (network shares that report no events)."),
    Setting("watch.rescan_interval", 300.0,
            "Seconds between full rescans of the inboxes, which catch events the system dropped; 0 turns them off."),
    Setting("watch.ignore", ["~$*", ".*", "*.part", "*.partial", "*.crdownload", "*.tmp", "*.swp", "Thumbs.db",
                             "desktop.ini", ".DS_Store"],
            "File and folder name patterns (fnmatch, any case) the watcher never takes: temporary and hidden files."),
    Setting("watch.move_to", "",
            "Folder (relative to the archive folder or absolute) the watcher moves each file into once it is "
            "committed, keeping its path below the inbox; empty leaves files where they are."),
    Setting("search.limit", 20, "Results shown by `archiver search` unless --limit says otherwise."),
    Setting("refs.change_request_patterns", [],
            "Regular expressions for change request ids, with groups prefix, year (optional) and number; "
            "empty means the built-in CR/ECR/ECO/ECN/ECP/DCR forms.", _patterns),
    Setting("refs.document_prefixes", [],
            "Prefixes of controlled document numbers such as SPEC-104 or DWG-3310; empty means the built-in "
            "SPEC, DWG, QP, WI, SOP, TS, TR, RPT, PS, TP, MAN."),
    Setting("export.prefix", "ARC",
            "Prefix of the control numbers an export gives its documents, e.g. ARC for ARC-00000001.",
            _export_prefix),
    Setting("export.digits", 8, "Digits of the zero-padded counter of a control number (4 to 12).",
            _export_digits),
    Setting("export.profile", "edrm",
            "Field names of the load files: edrm (BEGBATES, ENDBATES, ...) or doj (BEGDOC#, ENDDOC#, ...).",
            _export_profile),
    Setting("export.fields", {},
            "Load-file fields to rename after the profile, e.g. {BEGBATES = \"BEGNO\"} (names as in edrm).",
            _export_fields),
    Setting("export.organization", "",
            "Who produces the bundles, written as Source-Organization in bag-info.txt; empty leaves it out."),
    Setting("filing.enabled", True,
            "File documents into the filed tree as they are ingested (by `archiver ingest` and the watcher)."),
    Setting("filing.root", "filed",
            "Folder of the filed tree, derived from the catalog (relative to the archive folder or absolute).",
            filing_rules.check_root),
    Setting("filing.mode", "hardlink",
            "How entries are made: hardlink (falls back to copy across file systems), copy (read-only) or "
            "symlink.", filing_rules.check_mode),
    Setting("filing.default", "{product}/{format}/{year}/{date:%Y-%m-%d} {title}.{ext}",
            "Path template of the default rule, for documents no rule matches (fields and fallbacks: README, "
            "Filing).", filing_rules.check_template),
    Setting("filing.rules", [],
            "Filing rules, tried in order before the default: [[filing.rules]] tables with name, path, "
            "conditions, each_product, each_cr (README, Filing); see the commented example at the end of archive.toml.",
            filing_rules.check_rules),
    Setting("ocr.enabled", True, "Read scans with OCR during ingest; when false they wait for `archiver ocr`."),
    Setting("ocr.languages", ["eng"], "Tesseract languages for OCR, e.g. [\"eng\", \"deu\"]."),
    Setting("ocr.timeout", 300, "Wall-time limit in seconds for reading one page with OCR."),
    Setting("ocr.low_confidence", 60.0,
            "Mean word confidence (0-100) under which `archiver status` lists a scan as low confidence."),
    Setting("catalog.url", "",
            "PostgreSQL URL (postgresql://user@host/db) of a team archive's shared catalog, search and work "
            "queue; empty keeps them in catalog.sqlite and index/ in the archive folder. Passwords belong in "
            "~/.pgpass or PGPASSWORD, not here.", _catalog_url),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    """The settings of one archive, with defaults filled in.

    A wrong value is an error where it is used (and for every writing command,
    which checks them all first): a mistyped filing rule must not keep anyone
    from searching the archive.
    """

    root: Path
    values: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)   # setting -> why its value is wrong

    def __getitem__(self, name: str) -> Any:
        if name in self.problems:
            raise ConfigError(self.problems[name])
        return self.values[name]

    def check(self) -> None:
        """Raise the first wrong value's ConfigError, if any."""
        for message in self.problems.values():
            raise ConfigError(message)

    @property
    def workers(self) -> int:
        """Return the number of worker processes to start."""
        return self.values["ingest.workers"] or (os.cpu_count() or 1)

    def inbox_paths(self) -> list[Path]:
        """Return the inbox folders as absolute paths."""
        return [(self.root / p).resolve() for p in self.values["inboxes"]]


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in _BY_NAME:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _check(name: str, value: Any) -> None:
    default = _BY_NAME[name].default
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if not isinstance(value, expected) or isinstance(value, bool) != isinstance(default, bool):
        raise ConfigError(
            f"archive.toml: {name} must be {expected.__name__}, not {type(value).__name__}")
    if isinstance(value, (int, float)) and value < 0:
        raise ConfigError(f"archive.toml: {name} must not be negative")
    setting = _BY_NAME[name]
    if setting.check is None and isinstance(value, list) and not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"archive.toml: {name} must be a list of non-empty strings")
    if setting.check is not None:
        try:
            setting.check(value)
        except ValueError as exc:
            raise ConfigError(f"archive.toml: {name}: {exc}") from exc


def load(root: Path) -> Config:
    """Read ``root/archive.toml``, check every value, and fill in defaults."""
    path = root / "archive.toml"
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: missing; run: archiver init") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    values = {s.name: s.default for s in SETTINGS}
    problems = {}
    for name, value in _flatten(table).items():
        if name not in _BY_NAME:
            raise ConfigError(f"archive.toml: unknown setting {name!r}")
        try:
            _check(name, value)
        except ConfigError as exc:
            problems[name] = str(exc)
            continue
        values[name] = value
    return Config(root=root, values=values, problems=problems)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def template(catalog_url: str = "") -> str:
    """Return the text of a new archive.toml: every setting, its default and help (and a catalog URL)."""
    lines = ["# archiver settings. Every setting is optional; the values shown are the defaults.", ""]
    current = None
    for s in SETTINGS:
        section, _, key = s.name.rpartition(".")
        if section != current:
            if section:
                lines += ["", f"[{section}]"]
            current = section
        lines.append(f"# {s.help}")
        if s.name in _TABLE_ARRAYS:
            lines.append(f"# {key} = [] unless [[{s.name}]] tables follow (see below)")
        elif s.name == "catalog.url":
            lines.append(f"{key} = {_toml_value(catalog_url)}")
        else:
            lines.append(f"{key} = {_toml_value(s.default)}")
    return "\n".join(lines) + "\n" + _RULES_EXAMPLE


# Settings that are arrays of tables: written as a commented example, since a `rules = []`
# line and [[filing.rules]] tables cannot stand in one file.
_TABLE_ARRAYS = {"filing.rules"}
_RULES_EXAMPLE = """
# Filing rules, tried in order; the first that matches files the document. Uncomment and adapt:
# [[filing.rules]]
# name = "Change requests"
# cr = "*"
# path = "{product}/Change requests/{cr}/{date:%Y-%m-%d} {title}.{ext}"
# each_product = true
#
# [[filing.rules]]
# name = "Specifications"
# doc_number = "SPEC-*"
# path = "{product}/Specifications/{doc_number}/{doc_number} Rev {revision}.{ext}"
"""


def set_catalog_url(root: Path, url: str) -> None:
    """Point an archive's archive.toml at a catalog URL (the [catalog] table's url), keeping the rest."""
    path = root / "archive.toml"
    text = path.read_text(encoding="utf-8")
    line = f"url = {_toml_value(url)}"
    section = re.search(r"(?m)^\[catalog\]\s*$", text)
    if section:
        rest = text[section.end():]
        end = re.search(r"(?m)^\[", rest)
        body = rest[:end.start()] if end else rest
        if re.search(r"(?m)^url\s*=.*$", body):
            body = re.sub(r"(?m)^url\s*=.*$", lambda m: line, body, count=1)
        else:
            body = "\n" + line + body
        text = text[:section.end()] + body + (rest[end.start():] if end else "")
    else:
        text = text.rstrip("\n") + f"\n\n[catalog]\n{line}\n"
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    load(root).check()  # still valid
