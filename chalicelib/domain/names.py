"""File and folder names as the contract defines them: NFC segments of 1..255 characters."""

from __future__ import annotations

import unicodedata

from chalicelib.errors import BadRequestError

MAX_SEGMENT = 255
MAX_DEPTH = 32

# Bidirectional overrides and isolates make `exe.pdf` look like `fdp.exe`: refused.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def segment_problem(segment: str) -> str | None:
    """Why a single name segment is not acceptable, or None when it is."""
    if not segment:
        return "must not be empty"
    if len(segment) > MAX_SEGMENT:
        return f"must be at most {MAX_SEGMENT} characters"
    if segment in (".", ".."):
        return "must not be '.' or '..'"
    if "/" in segment:
        return "must not contain '/'"
    if unicodedata.normalize("NFC", segment) != segment:
        return "must be in Unicode NFC form"
    for char in segment:
        if char in BIDI_CONTROLS:
            return "must not contain bidirectional control characters"
        if unicodedata.category(char) == "Cc":
            return "must not contain control characters"
    return None


def check_name(name: object) -> str:
    """A valid file name, or 400."""
    if not isinstance(name, str):
        raise BadRequestError("name must be a string.")
    problem = segment_problem(name)
    if problem:
        raise BadRequestError(f"name {problem}.")
    return name


def normalize_path(path: object) -> str:
    """A valid folder path in canonical form (`/`, or `/a/b/` with a trailing slash), or 400."""
    if path is None:
        return "/"
    if not isinstance(path, str) or not path.startswith("/"):
        raise BadRequestError("path must be a string starting with '/'.")
    segments = [s for s in path.split("/")[1:]]
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
