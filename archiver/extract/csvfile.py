"""Extract CSV files as text, one record per line with cells joined by " | "."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from archiver.errors import ExtractionError
from archiver.extract import Limits, register
from archiver.extract.text import decode_bytes, read_nonempty
from archiver.records import Extraction, Page

_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 64 * 1024
_FIELD_LIMIT = 10 * 1024 * 1024


def sniff_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Guess the CSV dialect from the first whole lines of text, falling back to plain commas."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel


def read_rows(
    text: str, dialect: type[csv.Dialect] | csv.Dialect, limits: Limits
) -> tuple[list[list[str]], tuple[str, ...]]:
    """Parse CSV text into non-empty rows, stopping once limits.max_text_chars is reached.

    Returns:
        The rows and any warnings.

    Raises:
        ExtractionError: The text is not parseable as CSV.
    """
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows: list[list[str]] = []
    size = 0
    old_limit = csv.field_size_limit(_FIELD_LIMIT)
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            size += sum(len(cell) + 3 for cell in row)
            if size > limits.max_text_chars:
                return rows, (f"text truncated at {limits.max_text_chars} characters",)
            rows.append(row)
    except csv.Error as exc:
        raise ExtractionError(f"malformed CSV: {exc}") from exc
    finally:
        csv.field_size_limit(old_limit)
    return rows, ()


class CsvExtractor:
    """Read CSV files; the first record is taken as the column names."""

    name = "csv"
    mime_types = ("text/csv",)
    score = 10

    def extract(self, path: Path, limits: Limits) -> Extraction:
        """Decode and parse the file; metadata holds the encoding, data row count and columns."""
        text, encoding = decode_bytes(read_nonempty(path))
        dialect = sniff_dialect(text)
        rows, warnings = read_rows(text, dialect, limits)
        lines = "\n".join(" | ".join(cell.strip() for cell in row) for row in rows)
        return Extraction(
            pages=(Page(number=1, text=lines),),
            metadata={
                "encoding": encoding,
                "delimiter": dialect.delimiter,
                "rows": max(len(rows) - 1, 0),
                "columns": [cell.strip() for cell in rows[0]] if rows else [],
            },
            warnings=warnings,
        )


register(CsvExtractor())
