"""Filing: templates, safe names, rules, collisions, the filed tree on disk and the `file` command."""
from __future__ import annotations

import hashlib
import json
import ntpath
import os
import posixpath
import re
import shutil
import stat
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathvalidate import validate_filename, validate_filepath

from archiver import Archive, ConfigError
from archiver import config as config_module
from archiver.filing import names
from archiver.filing.layout import Want, resolve
from archiver.filing.rules import parse_rules
from archiver.filing.templates import FIELDS, DocMeta, TemplateError, parse, render
from tests.conftest import Cli
from tests.makers import make_eml

UTC = timezone.utc
FULL = DocMeta(
    doc_id=12, sha256="ab" * 32, format="pdf", mime="application/pdf", title="Housing drawing",
    author="Bob Builder", sender="Alice Example <alice@acme.com>", date=datetime(2024, 3, 4, 9, 30, tzinfo=UTC),
    filename="DWG-3310 RevB.PDF", doc_number="DWG-3310", revision="B", products=("WX-100", "WX-200"),
    product_names=("Widget X", ""), crs=("CR-2024-0142", "ECO-1123"))
BARE = DocMeta(doc_id=3, sha256="cd" * 32, format="text", mime="text/plain")
DEFAULT = config_module._BY_NAME["filing.default"].default
CR_TEMPLATE = "{product}/Change requests/{cr}/{date:%Y-%m-%d} {title}.{ext}"
SPEC_TEMPLATE = "{product}/Specifications/{doc_number}/{doc_number} Rev {revision}.{ext}"


def path_of(template: str, meta: DocMeta = FULL, **changes) -> str:
    return render(parse(template), replace(meta, **changes))


# -- templates, one field at a time -------------------------------------------------


@pytest.mark.parametrize("template, expected", [
    ("{product}", "WX-100"), ("{product_name}", "Widget X"), ("{cr}", "CR-2024-0142"),
    ("{doc_number} Rev {revision}", "DWG-3310 Rev B"), ("{title}", "Housing drawing"),
    ("{date}", "2024-03-04"), ("{date:%Y-%m-%d}", "2024-03-04"), ("{date:%Y/%m}", "2024_03"),
    ("{date:%d %B %Y}", "04 March 2024"), ("{year}", "2024"), ("{month}", "03"), ("{month:d}", "3"),
    ("{ext}", "pdf"), ("{format}", "pdf"), ("{format!u}", "PDF"), ("{author}", "Bob Builder"),
    ("{author!l}", "bob builder"), ("{sender}", "Alice Example"), ("{filename}", "DWG-3310 RevB.PDF"),
    ("{stem}", "DWG-3310 RevB"), ("{doc_id}", "12"), ("{doc_id:05d}", "00012"), ("{sha256:.8}", "abababab"),
    ("{title:.7}", "Housing"), ("{title:-<18}", "Housing drawing---"), ("{title:*<18}", "Housing drawing___"),
    ("{title!u:.3}", "HOU"),
    (CR_TEMPLATE, "WX-100/Change requests/CR-2024-0142/2024-03-04 Housing drawing.pdf"),
    (SPEC_TEMPLATE, "WX-100/Specifications/DWG-3310/DWG-3310 Rev B.pdf"),
    (DEFAULT, "WX-100/pdf/2024/2024-03-04 Housing drawing.pdf"),
])
def test_each_field_and_format_spec(template, expected):
    assert path_of(template) == expected


def test_every_field_is_covered_above():
    assert set(FIELDS) == {"product", "product_name", "cr", "doc_number", "revision", "title", "date", "year",
                           "month", "ext", "format", "author", "sender", "filename", "stem", "doc_id", "sha256"}


@pytest.mark.parametrize("field, expected", [
    ("product", "_No product"), ("product_name", "_No product"), ("cr", "_No change request"),
    ("doc_number", "_No number"), ("revision", "-"), ("title", "document 3"), ("date", "undated"),
    ("date:%Y-%m", "undated"), ("year", "undated"), ("month", "undated"), ("ext", "txt"), ("format", "text"),
    ("author", "_No author"), ("sender", "_No sender"), ("filename", "document 3.txt"), ("stem", "document 3"),
    ("doc_id", "3"), ("sha256:.6", "cdcdcd"),
])
def test_missing_values_fall_back(field, expected):
    assert path_of("{%s}" % field, BARE) == expected


def test_title_falls_back_to_the_file_stem_and_product_name_to_the_code():
    assert path_of("{title}.{ext}", BARE, filename="minutes 12.txt") == "minutes 12.txt"
    assert path_of("{title}", BARE, title="   ", filename="x/y/memo.v2.txt") == "memo.v2"
    assert path_of("{product_name}", FULL, products=("WX-200",), product_names=("",)) == "WX-200"
    assert path_of("{sender}", BARE, sender="bob@acme.com") == "bob@acme.com"


@pytest.mark.parametrize("fmt, mime, filename, expected", [
    ("pdf", "application/pdf", "REPORT.PDF", "pdf"), ("pdf", "application/pdf", "scan.dat", "pdf"),
    ("html", "text/html", "page.htm", "htm"), ("text", "text/plain", None, "txt"),
    ("markdown", "text/markdown", "notes.markdown", "markdown"), ("email", "message/rfc822", "msg", "eml"),
    ("image", "image/jpeg", "photo.jpeg", "jpeg"), ("image", "image/tiff", "scan.png", "tif"),
    ("unknown", "application/zip", "bundle.ZIP", "zip"), ("unknown", "application/octet-stream", None, "bin"),
])
def test_ext_keeps_the_original_extension_when_it_suits_the_format(fmt, mime, filename, expected):
    assert path_of("{ext}", BARE, format=fmt, mime=mime, filename=filename) == expected


@pytest.mark.parametrize("title, expected", [
    ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f'g_h_i_j.pdf"),
    ("tab\tnew\nline\r\x00nul\x1fend", "tab new line nul end.pdf"),
    ("zero\u200bwidth\u202eright-to-left", "zerowidthright-to-left.pdf"),
    ("../../etc/passwd", "__.._etc_passwd.pdf"),
    ("  spaced   out  ", "spaced out.pdf"),
])
def test_unsafe_characters_in_a_value_never_make_folders(title, expected):
    assert path_of("{title}.{ext}", title=title) == expected


@pytest.mark.parametrize("filename, expected", [
    ("CON", "CON_"), ("nul.txt", "nul_.txt"), ("com1.txt", "com1_.txt"), ("LPT9.pdf", "LPT9_.pdf"),
    ("aux.tar.gz", "aux_.tar.gz"), ("CON .txt", "CON_.txt"), ("COM\u00b9", "COM\u00b9_"), ("Prn", "Prn_"),
    ("CONSOLE.txt", "CONSOLE.txt"), ("nullable.txt", "nullable.txt"),
])
def test_reserved_device_names_get_an_underscore(filename, expected):
    assert path_of("{filename}", BARE, filename=filename) == expected


def test_trailing_dots_and_spaces_and_leading_dots_are_made_safe():
    assert path_of("{title}", title="Report. . ") == "Report"
    assert path_of("{author}/{title}.{ext}", author="J. Smith.", title=".hidden") == "J. Smith/_hidden.pdf"
    assert path_of("{title}/{format}", title="..") == "_/pdf"
    assert path_of("a//{title}/", title="x") == "a/x"


def test_very_long_values_are_cut_to_the_limits_keeping_the_extension():
    path = path_of("{author}/{product}/{title}.{ext}", author="A" * 500, title="T" * 1000)
    parts = path.split("/")
    assert len(path) <= names.MAX_PATH and all(len(p) <= names.MAX_COMPONENT for p in parts)
    assert parts[-1].endswith("T.pdf") and parts[1] == "WX-100"
    wide = path_of("{title}.{ext}", title="\U0001F600" * 200)
    assert len(wide.encode()) <= names.MAX_COMPONENT_BYTES and wide.endswith(".pdf")
    deep = path_of("/".join(["{title}"] * names.MAX_DEPTH), title="x" * 200)
    assert len(deep) <= names.MAX_PATH and names.is_safe_path(deep)


def test_unicode_is_kept_and_normalised_to_nfc():
    assert path_of("{title}", title="Prüfbericht – Gehäuse ✓") == "Prüfbericht – Gehäuse ✓"
    assert path_of("{title}", title="Cafe\u0301") == "Caf\u00e9"
    assert path_of("{title}", title="設計レビュー") == "設計レビュー"


@pytest.mark.parametrize("template, message", [
    ("", "the path template is empty"),
    ("/abs/{title}", "'/abs/{title}': the path template must be relative"),
    ("C:/x/{title}", "'C:/x/{title}': the path template must be relative"),
    ("{colour}", "'{colour}': unknown field {colour} (known: product, product_name"),
    ("{title.upper}", "unknown field {title.upper}"),
    ("{}", "unknown field {}"),
    ("{title!r}", "'{title!r}': unknown conversion !r in {title} (known: !u, !l)"),
    ("{doc_id:x<q}", "'{doc_id:x<q}': bad format spec 'x<q' for {doc_id}"),
    ("{title:{x}}", "nested fields are not allowed"),
    ("a/../{title}", "'..' is not allowed"),
    ("{title", "expected '}' before end of string"),
    ("1/2/3/4/5/6/7/8/{title}", "more than 8 folder levels"),
])
def test_bad_templates_are_refused_with_one_line(template, message):
    with pytest.raises(TemplateError) as info:
        parse(template)
    assert message in str(info.value) and "\n" not in str(info.value)


# -- properties ---------------------------------------------------------------------

NASTY = st.sampled_from(["CON", "nul.txt", "..", ".", " . ", "a/../b", "../../etc/passwd", "C:\\Windows",
                         "\\\\server\\share", "~", "com1", "LPT\u00b9.x", "x" * 400, "\u200b", " ", "CON .txt"])
TEXT = st.one_of(st.none(), st.text(max_size=300), NASTY)
LABELS = st.lists(st.one_of(st.text(max_size=60), NASTY), max_size=3).map(tuple)
METAS = st.builds(
    DocMeta, doc_id=st.integers(1, 10**9), sha256=st.text("0123456789abcdef", min_size=64, max_size=64),
    format=st.one_of(st.sampled_from(["pdf", "docx", "text", "markdown", "html", "csv", "email", "image",
                                      "unknown"]), st.text(max_size=20)),
    mime=st.sampled_from(["application/pdf", "image/png", "text/plain", ""]), title=TEXT, author=TEXT,
    sender=TEXT, date=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))), filename=TEXT,
    doc_number=TEXT, revision=TEXT, products=LABELS, product_names=LABELS, crs=LABELS)
TEMPLATES = [DEFAULT, CR_TEMPLATE, SPEC_TEMPLATE, "{title}", "{filename}", "{author}/{sender}/{stem}.{ext}",
             "{product_name}/{cr}/{doc_number}/{revision}/{title:.200}{title}.{ext}", "{format!u}/{sha256:.8} {title}",
             "a/b/c/d/e/f/g/{title}{author}{filename}", ".{title}", "{title}. ", "{doc_number}.{revision}",
             "{date:%Y}/{date:%m}/{month}/{year}/{doc_id:020d}"]


def assert_safe(path: str) -> None:
    assert names.is_safe_path(path), path
    parts = path.split("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert not PurePosixPath(path).is_absolute() and not PureWindowsPath(path).anchor
    for part in parts:
        for platform in ("windows", "linux", "macos", "universal"):
            validate_filename(part, platform=platform)
    validate_filepath(path, platform="windows")
    validate_filepath(path, platform="linux")
    assert posixpath.normpath(posixpath.join("/srv/filed", path)).startswith("/srv/filed/")
    assert ntpath.normpath(ntpath.join("D:\\filed", path)).startswith("D:\\filed\\")


@settings(max_examples=300, deadline=None)
@given(meta=METAS, template=st.sampled_from(TEMPLATES))
def test_any_metadata_gives_a_safe_path_inside_the_root(meta, template):
    path = render(parse(template), meta)
    assert_safe(path)
    assert_safe(names.with_suffix(path, f" (doc {meta.doc_id})"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_a_safe_component_is_a_valid_name_and_stays_as_it_is(text):
    name = names.fit([text])
    assert names.is_safe_component(name)
    assert names.safe_component(name) == name and names.fit([name]) == name


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a/x.pdf", "A/X.pdf", "a/y.pdf", "a", "a/x (doc 3).pdf"]),
                          st.integers(1, 6)), max_size=12), st.randoms())
def test_collisions_resolve_to_unique_paths_whatever_the_order(wanted, rnd):
    entries = [(path, doc_id, "r") for path, doc_id in wanted]
    result = resolve(entries)
    shuffled = entries[:]
    rnd.shuffle(shuffled)
    assert resolve(shuffled) == result
    assert len({names.key(p) for p in result}) == len(result)
    assert {(w.doc_id) for w in result.values()} == {d for _, d, _ in entries}
    folders = {names.key(p.rsplit("/", 1)[0]) for p in result if "/" in p}
    assert not folders & {names.key(p) for p in result}


# -- rules --------------------------------------------------------------------------


def rules(*tables, default="{title}"):
    return parse_rules(list(tables), default)


def no_text(doc_id):
    return ""


def test_the_first_matching_rule_wins_and_the_default_catches_the_rest():
    rs = rules({"name": "pdfs", "format": "pdf", "path": "PDF/{title}"},
               {"name": "drawings", "doc_number": "DWG-*", "path": "Drawings/{title}"},
               {"name": "never", "format": "csv", "path": "CSV/{title}"})
    from archiver.filing.rules import choose
    assert choose(rs, FULL, no_text).name == "pdfs"
    assert choose(rs[1:], FULL, no_text).name == "drawings"
    assert choose(rs, BARE, no_text).name == "default"


@pytest.mark.parametrize("condition, matched", [
    ({"format": "pdf"}, True), ({"format": ["docx", "PDF"]}, True), ({"format": "text"}, False),
    ({"product": "WX-200"}, True), ({"product": "widget x"}, True), ({"product": "WX-3*"}, False),
    ({"cr": "CR-2024-*"}, True), ({"cr": "ECO\u20131123"}, True), ({"cr": "CR-2023-*"}, False),
    ({"doc_number": "dwg-*"}, True), ({"doc_number": "SPEC-*"}, False),
    ({"author": "*builder"}, True), ({"author": "Alice*"}, False),
    ({"sender": "*@acme.com"}, True), ({"sender": "Alice Example"}, True), ({"sender": "*@other.org"}, False),
    ({"filename": "*.pdf"}, True), ({"filename": ["*.txt", "DWG-????*"]}, True), ({"filename": "*.doc"}, False),
    ({"after": "2024-03-04"}, True), ({"after": "2024-03-05"}, False),
    ({"before": "2024-03-04"}, True), ({"before": "2024-03-03"}, False),
    ({"after": "2024-01-01", "before": "2024-12-31"}, True), ({"after": "2024-01-01", "format": "csv"}, False),
    ({"text": r"housing\s+rev\s+b"}, True), ({"text": ["nothing", r"^Approved"]}, True), ({"text": "gearbox"}, False),
])
def test_each_condition_kind(condition, matched):
    text = "The HOUSING Rev B drawing.\nApproved by QA."
    [rule, _] = rules({"name": "r", "path": "{title}", **condition})
    assert rule.matches(FULL, lambda doc_id: text) is matched


def test_a_document_without_a_date_or_values_does_not_meet_conditions_on_them():
    for condition in ({"after": "2000-01-01"}, {"product": "*"}, {"cr": "*"}, {"author": "*"}):
        [rule, _] = rules({"name": "r", "path": "{title}", **condition})
        assert not rule.matches(BARE, no_text)


def test_explain_names_each_condition_with_the_actual_value():
    [rule, default] = rules({"name": "specs", "path": "{title}", "format": "pdf", "cr": "ECR-*",
                             "after": "2024-04-01", "text": "housing"})
    matched, reasons = rule.explain(FULL, lambda doc_id: "a housing drawing")
    assert not matched
    assert reasons == ["format pdf matches 'pdf'",
                       "change requests CR-2024-0142, ECO-1123 does not match 'ECR-*'",
                       "date 2024-03-04 is before 2024-04-01",
                       "text matches 'housing'"]
    assert default.explain(BARE, no_text) == (True, ["no conditions: matches every document"])


def test_each_product_and_each_cr_file_one_entry_per_value():
    [per_product, _] = rules({"name": "p", "path": "{product_name}/{cr}/{title}", "each_product": True})
    assert per_product.paths(FULL) == ["Widget X/CR-2024-0142/Housing drawing",
                                       "WX-200/CR-2024-0142/Housing drawing"]
    [both, _] = rules({"name": "b", "path": "{product}/{cr}", "each_product": True, "each_cr": True})
    assert both.paths(FULL) == ["WX-100/CR-2024-0142", "WX-100/ECO-1123", "WX-200/CR-2024-0142",
                                "WX-200/ECO-1123"]
    [same, _] = rules({"name": "s", "path": "{title}", "each_product": True})
    assert same.paths(FULL) == ["Housing drawing"]
    assert both.paths(BARE) == ["_No product/_No change request"]


def test_each_cr_and_each_product_keep_to_the_rule_s_own_condition():
    [orders, _] = rules({"name": "o", "path": "{cr}/{title}", "cr": "ECO-*", "each_cr": True})
    assert orders.paths(FULL) == ["ECO-1123/Housing drawing"]
    [widget, _] = rules({"name": "w", "path": "{product}/{title}", "product": "Widget X", "each_product": True})
    assert widget.paths(FULL) == ["WX-100/Housing drawing"]
    [both, _] = rules({"name": "b", "path": "{product}/{cr}", "product": "WX-2*", "cr": "CR-*",
                       "each_product": True, "each_cr": True})
    assert both.paths(FULL) == ["WX-200/CR-2024-0142"]


def write_settings(root: Path, text: str) -> None:
    """Replace archive.toml with ``text``, keeping a team archive's catalog URL."""
    path = root / "archive.toml"
    url = re.search(r'(?m)^url = "(postgres[^"]*)"', path.read_text(encoding="utf-8")) if path.exists() else None
    if url:
        text = f'[catalog]\nurl = "{url.group(1)}"\n\n' + text
    path.write_text(text, encoding="utf-8")


KNOWN = ("name, path, each_product, each_cr, format, product, cr, doc_number, author, sender, filename, after, "
         "before, text")


@pytest.mark.parametrize("toml, message", [
    ('[[filing.rules]]\nname = "specs"\npath = "{title}"\ncolour = "red"\n',
     f"archive.toml: filing.rules: rule 1 (specs): unknown key 'colour' (known: {KNOWN})"),
    ('[[filing.rules]]\nname = "specs"\npath = "{title}"\ntext = "("\n',
     "archive.toml: filing.rules: rule 1 (specs): text: '(' is not a regular expression: "
     "missing ), unterminated subpattern at position 0"),
    ('[[filing.rules]]\npath = "{title}"\n\n[[filing.rules]]\nname = "x"\npath = "{colour}.pdf"\n',
     "archive.toml: filing.rules: rule 2 (x): path: '{colour}.pdf': unknown field {colour} (known: "),
    ('[[filing.rules]]\nname = "old"\npath = "{title}"\nafter = "2024-13-01"\n',
     "archive.toml: filing.rules: rule 1 (old): after: '2024-13-01' is not a date like 2024-03-31"),
    ('[[filing.rules]]\nname = "old"\npath = "{title}"\nbefore = ["2024-01-01"]\n',
     "archive.toml: filing.rules: rule 1 (old): before: ['2024-01-01'] is not a date like 2024-03-31"),
    ('[[filing.rules]]\nname = "a"\nformat = "pdf"\n',
     "archive.toml: filing.rules: rule 1 (a): path (the path template) is missing"),
    ('[[filing.rules]]\nname = "a"\npath = "{title}"\neach_product = "yes"\n',
     "archive.toml: filing.rules: rule 1 (a): each_product must be true or false"),
    ('[[filing.rules]]\nname = "a"\npath = "{title}"\nformat = []\n',
     "archive.toml: filing.rules: rule 1 (a): format must be a non-empty string or a list of them"),
    ('[[filing.rules]]\nname = "a"\npath = "x"\n[[filing.rules]]\nname = "a"\npath = "y"\n',
     "archive.toml: filing.rules: rule 'a': the name is used twice (or is 'default', which is reserved)"),
    ('[filing]\nrules = ["{title}"]\n',
     "archive.toml: filing.rules: rule 1: must be a table with name, path and conditions"),
    ('[filing]\ndefault = "{nope}"\n', "archive.toml: filing.default: '{nope}': unknown field {nope} (known: "),
    ('[filing]\nmode = "move"\n', "archive.toml: filing.mode: 'move' is not one of hardlink, copy, symlink"),
    ('[filing]\nroot = "."\n',
     "archive.toml: filing.root: must name a folder other than the archive folder itself"),
    ('[filing]\nenabled = "yes"\n', "archive.toml: filing.enabled must be bool, not str"),
])
def test_rules_are_checked_when_the_settings_are_read(tmp_path, toml, message):
    write_settings(tmp_path, toml)
    loaded = config_module.load(tmp_path)
    name = message.split(": ")[1].split(" ")[0]          # "archive.toml: filing.rules: ..." -> filing.rules
    with pytest.raises(ConfigError) as info:
        loaded[name]
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    with pytest.raises(ConfigError) as checked:
        loaded.check()
    assert str(checked.value) == str(info.value)


def test_a_wrong_filing_rule_stops_writing_commands_but_not_search(root):
    write_settings(root, '[[filing.rules]]\nname = "x"\npath = "{title}"\ntext = "["\n')
    cli = Cli(root)
    error = ("Error: archive.toml: filing.rules: rule 1 (x): text: '[' is not a regular expression: "
             "unterminated character set at position 0\n")
    for command in (["ingest", str(root)], ["reindex"], ["ocr"]):
        result = cli(*command)
        assert (result.exit_code, result.output) == (1, error), command
    for command in (["search", "anything"], ["status"], ["verify"], ["export", "1", "--out", str(root.parent / "b")]):
        result = cli(*command)
        assert result.exit_code == 0, (command, result.output)


def test_toml_dates_and_inline_rules_are_accepted(tmp_path):
    write_settings(tmp_path, '[filing]\nrules = [{name = "new", path = "{title}", after = 2024-01-01, '
                             'before = 2024-12-31T00:00:00Z}]\n')
    loaded = config_module.load(tmp_path)
    [rule, _] = parse_rules(loaded["filing.rules"], DEFAULT)
    assert rule.matches(FULL, no_text) and not rule.matches(BARE, no_text)


# -- collisions ---------------------------------------------------------------------


def test_collisions_get_a_stable_suffix_from_the_document_id():
    wanted = [("WX-100/memo.txt", 7, "r"), ("WX-100/Memo.TXT", 3, "r"), ("WX-100/memo.txt", 12, "r"),
              ("WX-100/other.txt", 12, "r")]
    expected = {"WX-100/Memo.TXT": Want(3, "r"), "WX-100/memo (doc 7).txt": Want(7, "r"),
                "WX-100/memo (doc 12).txt": Want(12, "r"), "WX-100/other.txt": Want(12, "r")}
    assert resolve(wanted) == expected
    assert resolve(list(reversed(wanted))) == expected
    # A newer document never displaces an older one.
    assert resolve(wanted + [("WX-100/memo.txt", 40, "r")])["WX-100/Memo.TXT"] == Want(3, "r")


def test_a_file_in_the_way_of_a_folder_gets_the_suffix():
    assert resolve([("a", 1, "r"), ("a/b.txt", 2, "r")]) == {"a (doc 1)": Want(1, "r"), "a/b.txt": Want(2, "r")}


# -- the filed tree on disk ---------------------------------------------------------

CR_RULE = {"name": "change requests", "cr": "CR-*", "path": CR_TEMPLATE}
SPEC_RULE = {"name": "specifications", "doc_number": "SPEC-*", "each_product": True, "path": SPEC_TEMPLATE}
PRODUCTS = '[[products]]\ncode = "WX-100"\nname = "Widget X"\n\n[[products]]\ncode = "WX-200"\nname = "Widget Y"\n'
DEFAULT_TREE = {
    "WX-100/markdown/2024/2024-02-01 SPEC-104 Rev C Housing specification.md": "spec.md",
    "WX-100/text/2024/2024-03-04 memo.txt": "memo.txt",
    "WX-100/text/2024/2024-03-04 minutes.txt": "minutes.txt",
    "WX-200/email/2024/2024-03-04 CR-2024-0142 approved.eml": "approval.eml",
    "_No product/text/2023/2023-11-20 notes.txt": "notes.txt",
}


def doc_ids(archive: Archive) -> dict[str, int]:
    """Return the id of each document by the name it arrived with (ingest order may vary)."""
    return {d.filename: d.id for d in archive.catalog.documents(archive.catalog.filing_doc_ids()).values()}


def entries(archive: Archive) -> dict[str, str]:
    """Return the filed entries the catalog knows, as path -> the document's file name."""
    names_of = {i: name for name, i in doc_ids(archive).items()}
    return {path: names_of[doc_id] for path, (doc_id, _, _) in archive.catalog.filed_entries().items()}


def toml_value(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def configure(root: Path, rules=(), **filing) -> Archive:
    """Write archive.toml with these filing settings and rules, and open the archive again."""
    lines = ["[ingest]", "workers = 2", "", "[filing]"] + [f"{k} = {toml_value(v)}" for k, v in filing.items()]
    for rule in rules:
        lines += ["", "[[filing.rules]]"] + [f"{k} = {toml_value(v)}" for k, v in rule.items()]
    write_settings(root, "\n".join(lines) + "\n")
    return Archive(root)


def fill_inbox(inbox: Path) -> None:
    def put(name: str, text: str, day: str) -> None:
        path = inbox / name
        path.write_text(text, encoding="utf-8")
        moment = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
        os.utime(path, (moment, moment))
    inbox.mkdir(parents=True, exist_ok=True)
    put("memo.txt", "Review memo\nCR-2024-0142 for WX-100: the housing change was approved.\n", "2024-03-04T09:00")
    put("notes.txt", "Kick-off notes, nothing about any product.\n", "2023-11-20T09:00")
    put("spec.md", "# SPEC-104 Rev C Housing specification\n\nApplies to WX-100 and WX-200.\n", "2024-02-01T09:00")
    make_eml(inbox / "approval.eml", subject="CR-2024-0142 approved", from_="Alice Example <alice@acme.com>",
             date="Mon, 04 Mar 2024 10:00:00 +0000", body="The CR-2024-0142 change for WX-200 is approved.\n",
             attachments=[("minutes.txt", b"Minutes: ECO-1123 approved for WX-100\n", "text/plain")])


def new_archive(root: Path, inbox: Path, **filing) -> Archive:
    (root.parent / "products.toml").write_text(PRODUCTS)
    Archive.init(root, products=root.parent / "products.toml").close()
    archive = configure(root, **filing)
    archive.ingest([inbox])
    return archive


@pytest.fixture(scope="module")
def unfiled(tmp_path_factory) -> Path:
    """An archive of the small inbox, ingested with filing switched off (copied by each test)."""
    base = tmp_path_factory.mktemp("unfiled")
    fill_inbox(base / "inbox")
    archive = new_archive(base / "archive", base / "inbox", enabled=False)
    assert not (archive.root / "filed").exists()
    archive.close()
    return base / "archive"


@pytest.fixture
def root(unfiled, tmp_path) -> Path:
    shutil.copytree(unfiled, tmp_path / "archive", symlinks=True)
    return tmp_path / "archive"


def tree_on_disk(root: Path) -> dict[str, str]:
    """Return every file and link under the filed tree with its content's SHA-256."""
    found = {}
    for path in sorted((root / "filed").rglob("*")):
        if path.is_file() or path.is_symlink():
            found[path.relative_to(root / "filed").as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def originals(root: Path) -> dict[str, tuple[str, int]]:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode)
            for p in (root / "originals").rglob("*") if p.is_file()}


def assert_tree_matches_catalog(archive: Archive) -> None:
    entries = archive.catalog.filed_entries()
    on_disk = tree_on_disk(archive.root)
    assert set(entries) <= set(on_disk)
    for path, (doc_id, _, _) in entries.items():
        assert on_disk[path] == archive.catalog.document(doc_id).sha256


def test_ingest_files_new_documents_as_they_arrive(tmp_path):
    fill_inbox(tmp_path / "inbox")
    archive = new_archive(tmp_path / "archive", tmp_path / "inbox")
    assert entries(archive) == DEFAULT_TREE
    assert set(tree_on_disk(archive.root)) == set(DEFAULT_TREE)
    assert_tree_matches_catalog(archive)
    late = tmp_path / "more" / "late note WX-200.txt"
    late.parent.mkdir()
    late.write_text("A late note about WX-200.\n")
    os.utime(late, (1717200000, 1717200000))
    archive.ingest([late.parent])
    assert entries(archive)["WX-200/text/2024/2024-06-01 late note WX-200.txt"] == "late note WX-200.txt"
    events = [e for e in archive.catalog.audit_events() if e["action"].startswith("file.")]
    assert len(events) == 6 and {e["action"] for e in events} == {"file.add"}
    assert events[-1]["detail"] == {"path": "WX-200/text/2024/2024-06-01 late note WX-200.txt",
                                    "rule": "default", "mode": "hardlink", "method": "hardlink",
                                    "because": "add"}
    archive.close()


@pytest.mark.parametrize("mode", ["hardlink", "copy", "symlink"])
def test_each_mode_makes_entries_from_the_originals(root, mode):
    archive = configure(root, mode=mode)
    before = originals(root)
    report = archive.file()
    assert [a.action for a in report.actions] == ["add"] * 5 and not report.errors
    ids = doc_ids(archive)
    for path, name in DEFAULT_TREE.items():
        entry = root / "filed" / path
        original = archive.store.path_for(archive.catalog.document(ids[name]).sha256)
        assert entry.read_bytes() == original.read_bytes()
        if mode == "hardlink":
            assert entry.stat().st_ino == original.stat().st_ino and not entry.is_symlink()
        elif mode == "copy":
            assert entry.stat().st_ino != original.stat().st_ino and not entry.is_symlink()
            assert not entry.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        else:
            assert entry.is_symlink() and not os.path.isabs(os.readlink(entry))
            assert entry.resolve() == original.resolve()
    assert originals(root) == before
    assert archive.file().actions == ()
    archive.close()


def test_a_hard_link_falls_back_to_a_copy_when_links_are_refused(root, monkeypatch):
    import errno

    def refuse(*args):
        raise OSError(errno.EXDEV, "Invalid cross-device link")
    monkeypatch.setattr(os, "link", refuse)
    archive = configure(root)
    report = archive.file()
    assert len(report.actions) == 5 and not report.errors
    entry = root / "filed" / "WX-100/text/2024/2024-03-04 memo.txt"
    assert entry.stat().st_nlink == 1 and entry.read_text().startswith("Review memo")
    events = [e["detail"]["method"] for e in archive.catalog.audit_events() if e["action"] == "file.add"]
    assert events == ["copy"] * 5
    assert archive.file().actions == ()
    archive.close()


def test_multi_product_filing_and_rules_from_archive_toml(root):
    archive = configure(root, rules=[CR_RULE, SPEC_RULE])
    archive.file()
    assert entries(archive) == {
        "WX-100/Change requests/CR-2024-0142/2024-03-04 memo.txt": "memo.txt",
        "WX-100/Specifications/SPEC-104/SPEC-104 Rev C.md": "spec.md",
        "WX-200/Specifications/SPEC-104/SPEC-104 Rev C.md": "spec.md",
        "WX-100/text/2024/2024-03-04 minutes.txt": "minutes.txt",
        "WX-200/Change requests/CR-2024-0142/2024-03-04 CR-2024-0142 approved.eml": "approval.eml",
        "_No product/text/2023/2023-11-20 notes.txt": "notes.txt",
    }
    assert_tree_matches_catalog(archive)
    archive.close()


def test_a_renamed_rule_that_files_to_the_same_paths_changes_no_file(root):
    archive = configure(root)
    archive.file()
    archive.close()
    archive = configure(root, rules=[{"name": "kick-off", "text": "kick-?off", "path": "Meetings/{title}.{ext}"},
                                     {"name": "all", "path": DEFAULT}])
    report = archive.file()
    assert [(a.action, a.path, a.source) for a in report.actions] == [
        ("move", "Meetings/notes.txt", "_No product/text/2023/2023-11-20 notes.txt")]
    assert report.unchanged == 4
    assert {p: rule for p, (_, rule, _) in archive.catalog.filed_entries().items()} == {
        **{p: "all" for p in DEFAULT_TREE if "notes" not in p}, "Meetings/notes.txt": "kick-off"}
    archive.close()


def test_refiling_after_a_rule_change_moves_and_removes_but_never_touches_originals(root):
    archive = configure(root, rules=[SPEC_RULE])
    archive.file()
    before = originals(root)
    archive.close()
    archive = configure(root, rules=[CR_RULE])
    report = archive.file()
    assert [(a.action, a.path, a.source) for a in report.actions] == [
        ("move", "WX-100/Change requests/CR-2024-0142/2024-03-04 memo.txt", "WX-100/text/2024/2024-03-04 memo.txt"),
        ("move", "WX-100/markdown/2024/2024-02-01 SPEC-104 Rev C Housing specification.md",
         "WX-100/Specifications/SPEC-104/SPEC-104 Rev C.md"),
        ("move", "WX-200/Change requests/CR-2024-0142/2024-03-04 CR-2024-0142 approved.eml",
         "WX-200/email/2024/2024-03-04 CR-2024-0142 approved.eml"),
        ("remove", "WX-200/Specifications/SPEC-104/SPEC-104 Rev C.md", None),
    ]
    assert originals(root) == before
    assert not (root / "filed" / "WX-100" / "Specifications").exists()
    assert not (root / "filed" / "WX-200" / "email").exists()
    assert set(tree_on_disk(root)) == set(archive.catalog.filed_entries())
    assert_tree_matches_catalog(archive)
    removed = [e for e in archive.catalog.audit_events() if e["action"] == "file.remove"]
    assert [e["detail"]["because"] for e in removed] == ["move", "move", "move", "remove"]
    assert removed[-1]["detail"]["rule"] == "specifications"
    archive.close()


def test_hand_placed_files_are_reported_and_left_alone(root):
    archive = configure(root)
    archive.file()
    filed = root / "filed"
    (filed / "Hand notes").mkdir()
    (filed / "Hand notes" / "todo.txt").write_text("mine")
    in_the_way = filed / "WX-100/Change requests/CR-2024-0142/2024-03-04 memo.txt"
    in_the_way.parent.mkdir(parents=True)
    in_the_way.write_text("not the memo")
    changed = filed / "WX-200/email/2024/2024-03-04 CR-2024-0142 approved.eml"
    changed.unlink()
    changed.write_text("edited by hand")
    archive.close()
    archive = configure(root, rules=[CR_RULE])
    for _ in range(2):
        report = archive.file()
        assert [(p.path, p.reason) for p in report.hand_placed] == [
            ("Hand notes/todo.txt", "not placed by archiver"),
            ("WX-100/Change requests/CR-2024-0142/2024-03-04 memo.txt", "not placed by archiver"),
            ("WX-200/email/2024/2024-03-04 CR-2024-0142 approved.eml", "changed since archiver placed it"),
        ]
    assert [(p.path, p.reason) for p in report.blocked] == [
        ("WX-100/Change requests/CR-2024-0142/2024-03-04 memo.txt", "in the way: a file archiver did not place")]
    assert (filed / "Hand notes" / "todo.txt").read_text() == "mine"
    assert in_the_way.read_text() == "not the memo" and changed.read_text() == "edited by hand"
    # The blocked memo keeps its old entry: it stays findable in the tree.
    kept = [p for p in archive.catalog.filed_entries() if p.endswith("memo.txt")]
    assert kept and all((filed / p).is_file() for p in kept)
    assert "WX-200/Change requests/CR-2024-0142/2024-03-04 CR-2024-0142 approved.eml" in tree_on_disk(root)
    archive.close()


def test_a_person_deleting_an_entry_gets_it_back_and_an_identical_file_is_adopted(root):
    archive = configure(root)
    archive.file()
    (root / "filed" / "WX-100/text/2024/2024-03-04 memo.txt").unlink()
    archive.close()
    archive = configure(root, rules=[CR_RULE])
    target = root / "filed" / "WX-200/Change requests/CR-2024-0142/2024-03-04 CR-2024-0142 approved.eml"
    target.parent.mkdir(parents=True)
    shutil.copyfile(root / "filed" / "WX-200/email/2024/2024-03-04 CR-2024-0142 approved.eml", target)
    report = archive.file()
    assert not report.hand_placed and not report.blocked
    assert ("move", "WX-100/Change requests/CR-2024-0142/2024-03-04 memo.txt") in [
        (a.action, a.path) for a in report.actions]
    assert_tree_matches_catalog(archive)
    assert set(tree_on_disk(root)) == set(archive.catalog.filed_entries())
    archive.close()


def test_dry_run_shows_exactly_what_the_real_run_then_does(root, inbox):
    archive = configure(root, rules=[{"name": "per product", "each_product": True,
                                      "path": "{product}/{format}/{title}.{ext}"}])
    archive.file()
    archive.close()
    late = inbox / "late.txt"
    late.write_text("Late news about WX-100.\n")
    quiet = configure(root, enabled=False)
    quiet.ingest([late])
    quiet.close()
    archive = configure(root, rules=[CR_RULE], mode="copy", default="{product}/{format}/{title}.{ext}")
    tree_before = tree_on_disk(root)
    dry = archive.file(dry_run=True)
    assert tree_on_disk(root) == tree_before and dry.dry_run
    real = archive.file()
    assert real.actions == dry.actions and not real.errors
    assert {a.action for a in real.actions} == {"add", "move", "replace", "remove"}
    assert real.summary() == dry.summary()
    assert archive.file(dry_run=True).actions == ()
    assert set(tree_on_disk(root)) == set(archive.catalog.filed_entries())
    assert_tree_matches_catalog(archive)
    archive.close()


def test_a_filed_root_inside_the_archive_s_own_files_is_refused(root):
    for value in ("originals/filed", "..", "index"):
        archive = configure(root)
        write_settings(root, f'[filing]\nroot = "{value}"\n')
        with pytest.raises(ConfigError) as info:
            Archive(root).file(dry_run=True)
        assert str(info.value) == (f"archive.toml: filing.root: {value!r} must not be the archive folder, hold it, "
                                   "or lie inside originals/ or index/")
        archive.close()


# -- the command --------------------------------------------------------------------


def test_file_command_human_and_json_output(root):
    archive = configure(root, rules=[CR_RULE, SPEC_RULE])
    memo = doc_ids(archive)["memo.txt"]
    archive.close()
    cli = Cli(root)
    dry = cli("file", "--dry-run")
    assert dry.exit_code == 0
    assert dry.output.splitlines()[-1] == ("Dry run, nothing changed: would add 6, move 0, replace 0, remove 0; "
                                          "0 unchanged.")
    assert f"add     {memo:>3}  WX-100/Change requests/CR-2024-0142/2024-03-04 memo.txt\n" in dry.output
    shown = cli.json("file")
    assert shown["dry_run"] is False and shown["mode"] == "hardlink"
    assert shown["root"] == str((root / "filed").absolute())
    assert shown["actions"][0] == {"action": "add", "path": "WX-100/Change requests/CR-2024-0142/2024-03-04 memo.txt",
                                   "doc_id": memo, "rule": "change requests", "from": None}
    assert shown["summary"] == {"documents": 5, "entries": 6, "unchanged": 0, "add": 6, "move": 0, "replace": 0,
                                "remove": 0, "hand_placed": 0, "blocked": 0, "errors": 0}
    (root / "filed" / "stray.pdf").write_text("x")
    again = cli("file")
    assert again.output == (f"Filed 5 documents as 6 entries in {(root / 'filed').absolute()}: 0 added, 0 moved, "
                            "0 replaced, 0 removed, 6 unchanged.\n"
                            "Left alone, not placed by archiver (or changed since):\n"
                            "  stray.pdf  (not placed by archiver)\n")
    assert cli.json("file")["hand_placed"] == [{"path": "stray.pdf", "reason": "not placed by archiver",
                                                "doc_id": None}]


def test_explain_says_which_rule_matched_and_why_the_others_did_not(root):
    archive = configure(root, rules=[SPEC_RULE, CR_RULE])
    ids = doc_ids(archive)
    archive.close()
    cli = Cli(root)
    result = cli("file", "--explain", "memo.txt")
    assert result.exit_code == 0
    assert result.output == (
        f"Document {ids['memo.txt']} (memo.txt) is filed by rule 'change requests'.\n"
        "  specifications: does not match\n"
        "    - document number (none) does not match 'SPEC-*'\n"
        "  change requests: matches (used)\n"
        "    - change requests CR-2024-0142 matches 'CR-*'\n"
        "  default: matches (not used: an earlier rule matched)\n"
        "    - the default rule matches every document\n"
        "Paths:\n"
        "  WX-100/Change requests/CR-2024-0142/2024-03-04 memo.txt\n"
        "Filed now at (run `archiver file` to update):\n"
        "  (nowhere)\n")
    shown = cli.json("file", "--explain", str(ids["spec.md"]))
    assert shown == {
        "doc_id": ids["spec.md"], "title": "SPEC-104 Rev C Housing specification", "rule": "specifications",
        "rules": [{"name": "specifications", "matched": True, "used": True,
                   "reasons": ["document number SPEC-104 matches 'SPEC-*'"]},
                  {"name": "change requests", "matched": False, "used": False,
                   "reasons": ["change requests (none) does not match 'CR-*'"]},
                  {"name": "default", "matched": True, "used": False,
                   "reasons": ["the default rule matches every document"]}],
        "paths": ["WX-100/Specifications/SPEC-104/SPEC-104 Rev C.md",
                  "WX-200/Specifications/SPEC-104/SPEC-104 Rev C.md"],
        "filed": []}
    missing = cli("file", "--explain", "999999")
    assert missing.exit_code == 1 and missing.output.startswith("Error: 999999: no such document")


def test_a_bad_rule_is_one_line_error_from_the_command(root):
    write_settings(root, '[[filing.rules]]\nname = "x"\npath = "{title}"\ntext = "["\n')
    result = Cli(root)("file", "--dry-run")
    assert result.exit_code == 1
    assert result.output == ("Error: archive.toml: filing.rules: rule 1 (x): text: '[' is not a regular expression: "
                             "unterminated character set at position 0\n")
