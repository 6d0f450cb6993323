"""File and folder names as the contract defines them: NFC segments of 1..255 characters (NFD is normalised)."""

from __future__ import annotations

import unicodedata

from chalicelib.errors import BadRequestError

MAX_SEGMENT = 255
MAX_DEPTH = 32

# Bidirectional overrides and isolates make `exe.pdf` look like `fdp.exe`: refused.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def text_problem(text: str) -> str | None:
    """Why a text (a name, a title) cannot be stored as given, or None: lone surrogates, controls, bidi overrides."""
    if text.isascii() and text.isprintable():  # most names: no surrogate, no bidi control, no C0 control nor DEL
        return None
    for char in text:
        if char in BIDI_CONTROLS:
            return "must not contain bidirectional control characters"
        category = unicodedata.category(char)
        if category == "Cs":
            return "must be valid Unicode (it holds a lone surrogate)"
        if category == "Cc":
            return "must not contain control characters"
    return None


def segment_problem(segment: str) -> str | None:
    """Why a single name segment (already in NFC) is not acceptable, or None when it is."""
    problem = text_problem(segment)  # first: a lone surrogate has no NFC form to measure
    if problem:
        return problem
    if not segment:
        return "must not be empty"
    if len(segment) > MAX_SEGMENT:
        return f"must be at most {MAX_SEGMENT} characters"
    if segment in (".", ".."):
        return "must not be '.' or '..'"
    if "/" in segment:
        return "must not contain '/'"
    return None


def nfc(text: str) -> str:
    """`text` in Unicode NFC (iPadOS and macOS write NFD: `e` + U+0301 for `é`); lone surrogates kept as they are."""
    if text.isascii():  # ASCII is its own NFC, and holds no surrogate
        return text
    if any(unicodedata.category(char) == "Cs" for char in text):
        return text  # refused by text_problem; normalising would hide nothing
    return unicodedata.normalize("NFC", text)


def check_name(name: object) -> str:
    """A valid file name in NFC (two names that normalise the same are one name), or 400."""
    if not isinstance(name, str):
        raise BadRequestError("name must be a string.")
    name = nfc(name)
    problem = segment_problem(name)
    if problem:
        raise BadRequestError(f"name {problem}.")
    return name


def check_title(value: object, field: str, max_length: int) -> str:
    """A title (of a class, an assignment): NFC, trimmed, 1..max_length characters, no controls; or 400."""
    if not isinstance(value, str):
        raise BadRequestError(f"{field} must be a string of 1 to {max_length} characters.")
    title = nfc(value).strip()
    problem = text_problem(title)
    if problem:
        raise BadRequestError(f"{field} {problem}.")
    if not title or len(title) > max_length:
        raise BadRequestError(f"{field} must be a string of 1 to {max_length} characters.")
    return title


def normalize_path(path: object) -> str:
    """A valid folder path in canonical form (`/`, or `/a/b/` with a trailing slash, NFC), or 400."""
    if path is None:
        return "/"
    if not isinstance(path, str) or not path.startswith("/"):
        raise BadRequestError("path must be a string starting with '/'.")
    segments = [nfc(s) for s in path.split("/")[1:]]
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash is allowed
    if len(segments) > MAX_DEPTH:
        raise BadRequestError(f"path must be at most {MAX_DEPTH} folders deep.")
    for segment in segments:
        problem = segment_problem(segment)
        if problem:
            raise BadRequestError(f"path segment {problem}.")
    return "/" + "".join(f"{s}/" for s in segments)


def parent_chain(path: str) -> list[tuple[str, str]]:
    """Every (parent folder, folder name) pair on the way to `path`, root first."""
    segments = path.strip("/").split("/") if path != "/" else []
    chain = []
    parent = "/"
    for segment in segments:
        chain.append((parent, segment))
        parent = f"{parent}{segment}/"
    return chain
