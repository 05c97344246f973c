"""Write and read the load files of a bundle: Concordance DAT, CSV and JSON rows under mappable field names.

DAT conventions (what Relativity, Concordance and most review tools read):
UTF-8 with a byte-order mark, a header row, the byte 0x14 between fields,
þ (U+00FE) around every field, ® (U+00AE) for a line break inside a field,
';' between the values of a multi-value field, CRLF line ends.
"""
from __future__ import annotations

import csv
import io
import json
import re

from archiver.errors import ConfigError, FileError

BOM = "\ufeff"
SEP, QUOTE, NEWLINE, MULTI = "\x14", "\u00fe", "\u00ae", ";"

# The canonical field names (those of the EDRM profile), in load-file order.
FIELDS = (
    "BEGBATES", "ENDBATES", "BEGATTACH", "ENDATTACH", "PARENTID", "ATTACHIDS", "PGCOUNT",
    "FILENAME", "FILEEXT", "FILESIZE", "TITLE", "AUTHOR", "DATECREATED", "DATEMOD", "DATESENT",
    "FROM", "TO", "CC", "BCC", "SUBJECT", "MD5HASH", "SHA1HASH", "SHA256HASH", "NATIVEPATH",
    "TEXTPATH", "PRODUCTS", "CHANGEREQUESTS", "DOCNUMBER", "SOURCEPATHS", "ARCHIVEID",
)
PROFILES = {
    "edrm": {},
    # DOJ Antitrust Division style: names of at most 8 characters.
    "doj": {"BEGBATES": "BEGDOC#", "ENDBATES": "ENDDOC#", "BEGATTACH": "BEGATTCH", "ENDATTACH": "ENDATTCH",
            "ATTACHIDS": "ATTCHIDS", "DATECREATED": "DATECRTD", "DATEMOD": "DATESVD", "DATESENT": "DOCDATE",
            "SHA256HASH": "SHA256", "NATIVEPATH": "DOCLINK", "TEXTPATH": "TEXTLINK", "CHANGEREQUESTS": "CHGREQS",
            "DOCNUMBER": "DOCNUM", "SOURCEPATHS": "SRCPATHS", "ARCHIVEID": "ARCHIVID"},
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def field_names(profile: str, custom: dict | None = None) -> dict[str, str]:
    """Return {canonical name: name written} for a profile and the export.fields renames."""
    names = {f: PROFILES[profile].get(f, f) for f in FIELDS}
    for key, new in (custom or {}).items():
        if key not in names:
            raise ConfigError(f"archive.toml: export.fields: unknown field {key!r} "
                              f"(the fields are {', '.join(FIELDS)})")
        names[key] = new
    written = list(names.values())
    duplicates = sorted({n for n in written if written.count(n) > 1})
    if duplicates:
        raise ConfigError(f"archive.toml: export.fields: field name {duplicates[0]!r} is used twice")
    return names


def clean(value) -> str:
    """Return a field's value as load-file text: the same in DAT, CSV and JSON.

    Lists become ';'-separated values; line breaks become '\\n'; control
    characters (the 0x14 separator among them) become spaces; a literal ® becomes
    "(R)", because ® means a line break in a DAT file.
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = MULTI.join(clean(v) for v in value if v not in (None, ""))
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(" ", text).replace(NEWLINE, "(R)")


def document_row(item, hashes: dict[str, str], products: list[str], crs: list[str],
                 places: list[str]) -> dict[str, str]:
    """Return one document's load-file values by canonical field name.

    ``item`` is a :class:`archiver.export.numbering.Item`; ``hashes`` has the
    native's md5 and sha1; ``places`` are the paths it was seen at.
    """
    d, meta = item.doc, item.doc.metadata
    email = d.format == "email"
    values = {
        "BEGBATES": item.control_number, "ENDBATES": item.control_number,
        "BEGATTACH": item.family[0], "ENDATTACH": item.family[1],
        "PARENTID": item.parent, "ATTACHIDS": list(item.attachments), "PGCOUNT": d.pages or 1,
        "FILENAME": item.name, "FILEEXT": item.native.rpartition(".")[2].lower() if "." in item.native else "",
        "FILESIZE": d.size, "TITLE": d.title, "AUTHOR": d.author, "DATECREATED": d.created,
        "DATEMOD": d.modified, "DATESENT": meta.get("date") if email else None,
        "FROM": meta.get("from") if email else None, "TO": meta.get("to") if email else None,
        "CC": meta.get("cc") if email else None, "BCC": meta.get("bcc") if email else None,
        "SUBJECT": d.subject or (meta.get("subject") if email else None),
        "MD5HASH": hashes["md5"], "SHA1HASH": hashes["sha1"], "SHA256HASH": d.sha256,
        "NATIVEPATH": item.native, "TEXTPATH": item.text, "PRODUCTS": products, "CHANGEREQUESTS": crs,
        "DOCNUMBER": f"{d.doc_number} Rev {d.revision}" if d.doc_number and d.revision else d.doc_number,
        "SOURCEPATHS": places, "ARCHIVEID": d.id,
    }
    return {name: clean(values[name]) for name in FIELDS}

# -- DAT -----------------------------------------------------------------------


def dat_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """Return a Concordance DAT file of a header and rows of cleaned values."""
    def line(values: list[str]) -> str:
        return QUOTE + (QUOTE + SEP + QUOTE).join(v.replace("\n", NEWLINE) for v in values) + QUOTE

    return (BOM + "".join(line(r) + "\r\n" for r in [header, *rows])).encode("utf-8")


def read_dat(data: bytes, label: str = "loadfile.dat") -> tuple[list[str], list[list[str]]]:
    """Parse a DAT file written by :func:`dat_bytes`; return (header, rows); raise FileError if malformed."""
    if not data.startswith(BOM.encode("utf-8")):
        raise FileError(label, "no UTF-8 byte-order mark")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileError(label, f"not UTF-8 ({exc})") from exc
    if not text.endswith("\r\n"):
        raise FileError(label, "does not end with CRLF")
    table = []
    for number, line in enumerate(text[:-2].split("\r\n"), start=1):
        if len(line) < 2 or not line.startswith(QUOTE) or not line.endswith(QUOTE) or "\n" in line:
            raise FileError(label, f"line {number} is not a row of þ-quoted fields")
        table.append([v.replace(NEWLINE, "\n") for v in line[1:-1].split(QUOTE + SEP + QUOTE)])
    header, rows = table[0], table[1:]
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise FileError(label, f"line {number} has {len(row)} fields, the header {len(header)}")
    return header, rows


# -- CSV and JSON ----------------------------------------------------------------


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """Return the rows as CSV (RFC 4180, UTF-8 with a byte-order mark for spreadsheets, CRLF)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (BOM + buf.getvalue()).encode("utf-8")


def read_csv(data: bytes) -> tuple[list[str], list[list[str]]]:
    """Parse a CSV file written by :func:`csv_bytes`."""
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return table[0], table[1:]


def json_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """Return the rows as a JSON list of objects, fields in load-file order."""
    objects = [dict(zip(header, row)) for row in rows]
    return (json.dumps(objects, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def read_json(data: bytes) -> tuple[list[str], list[list[str]]]:
    """Parse a JSON file written by :func:`json_bytes` (the header is the first object's keys)."""
    objects = json.loads(data.decode("utf-8"))
    header = list(objects[0]) if objects else []
    return header, [[str(o.get(h, "")) for h in header] for o in objects]
