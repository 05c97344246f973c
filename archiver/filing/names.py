"""Make file and folder names safe on Windows and POSIX, within length limits, with stable suffixes.

Every function here is pure: text in, text out. A safe relative path has
components that are valid file names on Windows, macOS and Linux alike
(pathvalidate's "universal" platform plus our own checks for reserved device
names such as ``CON`` or ``com1.txt``, trailing dots and spaces, leading dots),
at most :data:`MAX_COMPONENT` characters (and :data:`MAX_COMPONENT_BYTES` bytes
of UTF-8) each and :data:`MAX_PATH` characters in all, never ``..`` and never
absolute, so that joined to the filed root it always stays inside it.
"""
from __future__ import annotations

import functools
import re
import unicodedata

from pathvalidate import is_valid_filename, sanitize_filename

MAX_COMPONENT = 120          # characters per file or folder name
MAX_COMPONENT_BYTES = 240    # bytes of UTF-8 per name (ext4 allows 255)
MAX_PATH = 240               # characters of the whole relative path (Windows MAX_PATH is 260 with the root)
MAX_PATH_BYTES = 250         # ... and bytes of its UTF-8 (tools count bytes: 4-byte characters fill it sooner)
MAX_DEPTH = 8                # components of a path template
MIN_FOLDER = 16              # a folder name is not cut shorter than this to fit MAX_PATH
MIN_STEM = 32                # nor a file name's stem
MAX_EXT = 16                 # a longer ".suffix" is not treated as an extension

RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CLOCK$", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "\u00b9", "\u00b2", "\u00b3"]])
_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
_AS_SPACE = {"Cc", "Zl", "Zp"}           # control characters and line breaks
_DROPPED = {"Cf", "Cs", "Co"}            # invisible format characters, surrogates, private use
_SPACES = re.compile(r"\s+")
_EXT = re.compile(r"\.[A-Za-z0-9]{1,%d}$" % (MAX_EXT - 1))


def clean_text(text: str) -> str:
    """Return text as one line fit for a name: NFC, no control or format characters, no separators.

    Control characters and line breaks become spaces, invisible format and
    private-use characters go, runs of white space become one space; ``"``
    becomes ``'`` and the other characters Windows forbids
    (``/ \\ : * ? < > |``) become ``_``.
    """
    text = "".join(" " if unicodedata.category(c) in _AS_SPACE else c for c in text
                   if unicodedata.category(c) not in _DROPPED)
    text = _FORBIDDEN.sub("_", _SPACES.sub(" ", text).replace('"', "'"))
    return unicodedata.normalize("NFC", text).strip()


@functools.lru_cache(maxsize=65536)
def safe_component(name: str) -> str:
    """Return ``name`` as a file or folder name valid on Windows and POSIX (never empty, never . or ..).

    Leading dots become ``_`` (no hidden files, no ``..``), trailing dots and
    spaces go, and a reserved device name gets ``_`` after its root
    (``CON`` -> ``CON_``, ``com1.txt`` -> ``com1_.txt``). Length is not limited
    here; see :func:`fit`.
    """
    name = clean_text(name)
    if len(name.encode("utf-8")) <= 255:  # pathvalidate cuts longer names, extension and all; fit() cuts them
        name = clean_text(sanitize_filename(name, replacement_text="_", platform="universal"))
    name = re.sub(r"^\.+", "_", name).rstrip(" .")
    root, dot, rest = name.partition(".")
    if root.rstrip(" ").upper() in RESERVED:
        name = root.rstrip(" ") + "_" + dot + rest
    return name or "_"


def is_safe_component(name: str) -> bool:
    """Tell whether ``name`` is a safe file or folder name within the length limits."""
    return (bool(name) and name not in (".", "..") and not name.startswith(".")
            and len(name) <= MAX_COMPONENT and len(name.encode("utf-8")) <= MAX_COMPONENT_BYTES
            and name == clean_text(name) and name == name.rstrip(" .")
            and name.partition(".")[0].rstrip(" ").upper() not in RESERVED
            and is_valid_filename(name, platform="universal"))


def is_safe_path(path: str) -> bool:
    """Tell whether ``path`` is a safe relative path: "/"-separated safe components, short enough."""
    return (0 < len(path) <= MAX_PATH and not path.startswith("/")
            and all(is_safe_component(part) for part in path.split("/")))


def split_ext(name: str) -> tuple[str, str]:
    """Split a name into stem and extension (".pdf"); a long or odd suffix is part of the stem."""
    match = _EXT.search(name)
    if match and match.start() > 0:
        return name[:match.start()], match.group()
    return name, ""


def _cut(text: str, chars: int, byte_limit: int = MAX_COMPONENT_BYTES) -> str:
    text = text[:max(chars, 1)]
    while len(text.encode("utf-8")) > byte_limit:
        text = text[:-1]
    return text.rstrip(" .") or "_"


def _file_name(stem: str, ext: str, suffix: str, chars: int) -> str:
    budget = chars - len(ext) - len(suffix)
    byte_budget = MAX_COMPONENT_BYTES - len(ext.encode("utf-8")) - len(suffix.encode("utf-8"))
    stem = _cut(stem, budget, byte_budget)
    return safe_component(stem + suffix + ext)


def fit(parts: list[str], suffix: str = "") -> str:
    """Join safe components into a path within the length limits; ``suffix`` goes before the extension.

    Names are cut at the end of their stem (the extension is kept), first each
    to :data:`MAX_COMPONENT`, then the longest ones until the whole path fits
    :data:`MAX_PATH`. Callers keep templates to :data:`MAX_DEPTH` components,
    which always leaves room.
    """
    parts = [safe_component(p) for p in parts if p] or ["_"]
    *folders, last = parts
    stem, ext = split_ext(last)
    folders = [_cut(f, MAX_COMPONENT) for f in folders]
    stem_limit = MAX_COMPONENT
    while True:
        name = _file_name(stem, ext, suffix, stem_limit)
        joined = "/".join(folders + [name])
        excess = max(len(joined) - MAX_PATH, len(joined.encode("utf-8", "surrogatepass")) - MAX_PATH_BYTES)
        if excess <= 0:
            break
        longest = max(range(len(folders)), key=lambda i: len(folders[i]), default=None)
        stem_room = len(name) - len(ext) - len(suffix) - MIN_STEM
        if longest is not None and len(folders[longest]) - MIN_FOLDER > max(stem_room, 0):
            folders[longest] = _cut(folders[longest], max(MIN_FOLDER, len(folders[longest]) - excess))
        elif stem_room > 0:
            stem_limit = max(MIN_STEM + len(ext) + len(suffix), len(name) - excess)
        else:
            break
    return "/".join(safe_component(f) for f in folders + [name])


def with_suffix(path: str, suffix: str) -> str:
    """Return ``path`` with ``suffix`` (e.g. " (doc 12)") before its extension, still within the limits."""
    return fit(path.split("/"), suffix)


def key(path: str) -> str:
    """Return the form under which two paths collide on a case-insensitive file system."""
    return unicodedata.normalize("NFC", path).casefold()
