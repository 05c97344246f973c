"""Extract the headers, body text and attachments of e-mail messages (.eml, RFC 822)."""
from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from datetime import datetime
from email import policy, quoprimime
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from archiver.errors import ExtractionError
from archiver.extract import Limits, register
from archiver.extract.html import html_to_text
from archiver.extract.pdf import as_utc
from archiver.extract.text import read_nonempty, truncate
from archiver.records import Attachment, Extraction, Page

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_WORD = r"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?="
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(rf"({_WORD})\s+(?={_WORD})")
_MESSAGE_ID = re.compile(r"<[^<>\s]*>")
_ADDRESS_HEADERS = ("from", "to", "cc", "bcc")


def _raw_bytes_text(value: str) -> str:
    """Re-read a header as parsed by compat32 (8-bit bytes kept as surrogates): UTF-8, else CP1252."""
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_lenient(data, "cp1252")


def _decode_lenient(data: bytes, charset: str | None) -> str:
    """Decode bytes in a declared charset; an unknown or unusable one falls back to Latin-1."""
    name = (charset or "ascii").strip().lower()
    if name in {"unknown-8bit", "x-unknown", "ascii", "us-ascii"}:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            name = "cp1252"
    try:
        return data.decode(codecs.lookup(name).name, errors="replace")
    except (LookupError, UnicodeError, TypeError, ValueError):
        return data.decode("latin-1")


def decode_header_value(raw: str | None) -> str:
    """Decode one raw header value: unfold it and decode its RFC 2047 words; never raise.

    Each encoded word is decoded on its own, so one malformed word stays as
    written without losing the others; unknown charsets fall back to Latin-1.
    """
    if raw is None:
        return ""
    text = _FOLD.sub("", _raw_bytes_text(str(raw)))
    text = _BETWEEN_WORDS.sub(r"\1", text)   # RFC 2047: space between adjacent words is not text
    return _ENCODED_WORD.sub(_decode_word, text).strip()


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, payload = match.groups()
    charset = charset.split("*")[0]            # RFC 2231 language suffix: utf-8*en
    if encoding in "Bb":
        try:
            data = base64.b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            return match.group(0)
    else:
        data = quoprimime.header_decode(payload).encode("latin-1", "replace")
    return _decode_lenient(data, charset)


def _headers(message: Message) -> dict[str, list[str]]:
    """Return every header's raw values by lower-cased name, without letting the policy parse them."""
    found: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        found.setdefault(name.strip().lower(), []).append(str(value))
    return found


def _addresses(values: list[str]) -> list[str]:
    """Parse address headers into "Name <addr>" strings; display names are decoded after splitting."""
    unfolded = [_FOLD.sub("", _raw_bytes_text(v)) for v in values]
    result = []
    try:
        pairs = getaddresses(unfolded)
    except Exception:  # noqa: BLE001 - a malformed header must not fail the message
        pairs = []
    for name, address in pairs:
        name = decode_header_value(name)
        if address or name:
            result.append(f"{name} <{address}>" if name and address else (address or name))
    if not result and any(v.strip() for v in unfolded):
        result = [decode_header_value(", ".join(unfolded))]
    return result


def _date(raw: str | None, warnings: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        return as_utc(parsedate_to_datetime(raw))
    except (TypeError, ValueError, IndexError, OverflowError):
        warnings.append(f"malformed Date header ignored: {raw[:60]!r}")
        return None


def _header_fields(message: Message, warnings: list[str]) -> tuple[dict[str, Any], datetime | None, str]:
    """Decode the headers archiver cares about.

    Returns:
        JSON-serialisable metadata, the Date as a UTC datetime (None if
        missing or malformed) and the Date header as written.
    """
    headers = _headers(message)

    def first(name: str) -> str | None:
        """Return the first value of a header, decoded, or None."""
        values = headers.get(name)
        return (decode_header_value(values[0]) or None) if values else None

    fields: dict[str, Any] = {name: _addresses(headers.get(name, [])) for name in _ADDRESS_HEADERS}
    fields["from"] = ", ".join(fields["from"]) or None
    date_raw = first("date") or ""
    moment = _date(date_raw, warnings)
    fields.update(
        date=moment.isoformat() if moment else None,
        subject=first("subject"),
        message_id=first("message-id"),
        in_reply_to=first("in-reply-to"),
        references=_MESSAGE_ID.findall(" ".join(headers.get("references", []))),
    )
    return fields, moment, date_raw


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - malformed parameters
        return None
    return (decode_header_value(name) or None) if name else None


def _is_attachment(part: Message) -> bool:
    # str(): compat32 returns a Header object, not a str, for a header with 8-bit bytes.
    disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    if disposition == "attachment" or _filename(part):
        return True
    return part.get_content_type() not in ("text/plain", "text/html")


def _payload(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822" and part.is_multipart():
        inner = part.get_payload(0)
        encoding = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
        # RFC 2046 forbids encoding an attached message, but some mailers do. Base64 text
        # parses as one header-less body, which decodes to the message; quoted-printable
        # text parses as the message with its escapes (=3D) left in, which decode in place.
        if encoding == "base64" and not inner.keys() and isinstance(inner.get_payload(), str):
            try:
                return base64.b64decode(inner.get_payload().encode("ascii", "replace"))
            except binascii.Error:
                pass   # not base64 after all: keep it as the parser read it
        if encoding == "quoted-printable":
            try:
                return quopri.decodestring(inner.as_bytes(policy=policy.compat32))
            except Exception:  # noqa: BLE001 - regenerating a broken message may fail
                pass
        try:
            return inner.as_bytes(policy=policy.compat32)
        except Exception:  # noqa: BLE001 - regenerating a broken message may fail
            return inner.as_string().encode("utf-8", "surrogateescape")
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _body_text(part: Message, warnings: list[str]) -> str:
    charset = part.get_content_charset()
    data = _payload(part)
    if charset and charset not in {"us-ascii", "ascii", "unknown-8bit"}:
        try:
            codecs.lookup(charset)
        except LookupError:
            warnings.append(f"unknown charset {charset!r} in body; read as Latin-1")
    text = _decode_lenient(data, charset)
    return html_to_text(text) if part.get_content_type() == "text/html" else text


class _Walk:
    """Sort a message's leaves into body parts and attachments, not descending into attached messages."""

    def __init__(self) -> None:
        self.plain: list[Message] = []
        self.html: list[Message] = []
        self.attachments: list[Attachment] = []

    def visit(self, part: Message) -> None:
        """Sort one part, recursing into multiparts (but not into attached messages)."""
        content_type = part.get_content_type()
        if part.is_multipart() and content_type != "message/rfc822":
            for child in part.get_payload():
                if isinstance(child, Message):
                    self.visit(child)
        elif content_type.startswith("multipart/"):
            self.plain.append(part)   # a multipart without a usable boundary: its text is the body
        elif _is_attachment(part):
            name = _filename(part) or f"attachment-{len(self.attachments) + 1}"
            self.attachments.append(Attachment(name=name, content_type=content_type, data=_payload(part)))
        elif content_type == "text/html":
            self.html.append(part)
        else:
            self.plain.append(part)


def _header_block(fields: dict[str, Any], date_raw: str) -> str:
    """Return the searchable header lines that open the page text."""
    lines = [
        ("From", fields["from"]), ("To", ", ".join(fields["to"])), ("Cc", ", ".join(fields["cc"])),
        ("Date", date_raw), ("Subject", fields["subject"]),
    ]
    return "".join(f"{label}: {value}\n" for label, value in lines if value) + "\n"


def _parse(path: Path, data: bytes) -> Message:
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(data)
    except Exception as exc:  # noqa: BLE001 - the parser is lenient; anything raised means unreadable
        raise ExtractionError(f"unreadable e-mail: {exc}") from exc
    if not message.keys():
        raise ExtractionError("not an e-mail message: no headers found")
    return message


_MBOX_FROM = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def _mbox_messages(data: bytes) -> list[bytes]:
    """Split a mailbox into its messages: each starts with a "From " line at the file's start or after
    an empty line; a body line ">From " (quoted so) is given back as "From "."""
    data = data.replace(b"\r\n", b"\n")
    starts = [m.start() for m in _MBOX_FROM.finditer(data) if m.start() == 0 or data[m.start() - 2:m.start()] == b"\n\n"]
    messages = []
    for begin, end in zip(starts, starts[1:] + [len(data)]):
        body = _MBOX_FROM.sub(b"", data[begin:end], count=1)
        messages.append(_QUOTED_FROM.sub(rb"\1", body).rstrip(b"\n") + b"\n")
    return messages


def _mailbox(messages: list[bytes], limits: Limits) -> Extraction:
    """Return a mailbox as a list of its messages (one line each), with the messages as attachments."""
    lines, warnings = [], []
    for number, raw in enumerate(messages, start=1):
        try:
            fields, _, date_raw = _header_fields(BytesParser(policy=policy.compat32).parsebytes(raw), warnings)
            lines.append(f"{number}. {date_raw or ''}  {fields['from'] or ''}  {fields['subject'] or ''}".strip())
        except Exception:  # noqa: BLE001 - the message itself is read (or refused) as its own document
            lines.append(f"{number}. (headers unreadable)")
    text, cut = truncate(f"Mailbox of {len(messages)} messages\n\n" + "\n".join(lines), limits)
    return Extraction(
        pages=(Page(number=1, text=text),), metadata={"mailbox": True, "messages": len(messages)},
        warnings=tuple(dict.fromkeys(warnings)) + cut,
        attachments=tuple(Attachment(f"message-{n}.eml", "message/rfc822", raw)
                          for n, raw in enumerate(messages, start=1)))


class MailExtractor:
    """Read e-mail messages: decoded headers, the body as one page, and the attachments."""

    name = "email"
    mime_types = ("message/rfc822",)
    score = 10

    def extract(self, path: Path, limits: Limits) -> Extraction:
        """Parse the message; headers never fail it, attachments are returned as data.

        A mailbox (mbox) of several messages is read as a list of them, each message
        its attachment: each becomes a document of its own, as an attached e-mail does.
        """
        data = read_nonempty(Path(path))
        messages = _mbox_messages(data) if data.startswith(b"From ") else []
        if len(messages) > 1:
            return _mailbox(messages, limits)
        message = _parse(Path(path), messages[0] if messages else data)
        warnings: list[str] = []
        try:
            fields, moment, date_raw = _header_fields(message, warnings)
            walk = _Walk()
            walk.visit(message)
            body = "\n\n".join(_body_text(part, warnings).strip() for part in walk.plain or walk.html)
        except RecursionError as exc:
            raise ExtractionError("unreadable e-mail: MIME parts nested too deeply") from exc
        except Exception as exc:  # noqa: BLE001 - the email package has many odd paths on broken input
            raise ExtractionError(f"unreadable e-mail: {exc}") from exc
        text, cut = truncate(_header_block(fields, date_raw) + body, limits)
        return Extraction(
            pages=(Page(number=1, text=text),),
            title=fields["subject"],
            subject=fields["subject"],
            author=fields["from"],
            created=moment,
            metadata=fields,
            warnings=tuple(warnings) + cut,
            attachments=tuple(walk.attachments),
        )


register(MailExtractor())
