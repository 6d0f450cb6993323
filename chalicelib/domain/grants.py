"""Upload grants as the API receives them: the terms, the request checked field by field, the parts of
a multipart completion."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.models import (
    Principal,
    SpaceRef,
    UploadRecord,
    base_type,
    require_id,
)
from chalicelib.domain.names import check_name, normalize_path
from chalicelib.domain.ports import UploadedPart
from chalicelib.domain.schema import UPLOAD
from chalicelib.errors import BadRequestError

SHA256 = re.compile(r"[0-9a-fA-F]{64}")
CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
MAX_BATCH = 100
MAX_PARTS = 10_000  # S3's limit on the parts of one upload
MIB = 1024 * 1024
GONE_REASONS = ("cancelled", "grant_expired")  # uploads that ended without bytes


@dataclass(frozen=True)
class UploadTerms:
    """How uploads are granted: the largest file, when it goes multipart, and how long grants live."""

    max_size: int
    ttl: int  # a single POST's policy (at most 15 minutes: the contract)
    multipart_threshold: int = 64 * MIB
    part_size: int = 16 * MIB
    multipart_ttl: int = 24 * 3600  # the whole multipart upload; each part URL lives `ttl`

    def part_size_for(self, size: int) -> int:
        """The configured part size, grown in whole MiB when the file would need over 10,000 parts."""
        needed = -(-size // MAX_PARTS)
        return max(self.part_size, -(-needed // MIB) * MIB)


@dataclass(frozen=True)
class GrantRequest:
    """An upload request, checked: where, what, how big."""

    space: SpaceRef
    path: str
    name: str
    size: int
    content_type: str
    sha256: str | None
    feedback_for: str | None = None  # a teacher's feedback on this student's submission
    base_version: int | None = None  # the version the device holds; another current one is a conflict


def upload_json(upload: UploadRecord) -> dict[str, Any]:
    return UPLOAD.to_json(upload)


def parse_grant(principal: Principal, body: Mapping[str, Any]) -> GrantRequest:
    """An upload request checked field by field (400 with what is wrong)."""
    space_text = body.get("space")
    if not isinstance(space_text, str):
        raise BadRequestError("space is required.")
    path = normalize_path(body.get("path", "/"))
    name = check_name(body.get("name"))
    size = parse_size(body.get("size"))
    content_type = body.get("contentType")
    # Parameters are dropped: MediaRecorder's `audio/webm;codecs=opus` is audio/webm.
    if not isinstance(content_type, str) or len(content_type) > 255:
        raise BadRequestError("contentType must be a MIME type such as application/pdf.")
    if not CONTENT_TYPE.fullmatch(base_type(content_type)):
        raise BadRequestError("contentType must be a MIME type such as application/pdf.")
    sha256 = body.get("sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not SHA256.fullmatch(sha256)):
        raise BadRequestError("sha256 must be 64 hexadecimal characters.")
    return GrantRequest(
        space=SpaceRef.parse(space_text, principal),
        path=path,
        name=name,
        size=size,
        content_type=base_type(content_type),
        sha256=sha256.lower() if sha256 else None,
        feedback_for=_feedback_for(body.get("feedbackFor")),
        base_version=_base_version(body.get("baseVersion")),
    )


def _base_version(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequestError("baseVersion must be the version number the device holds (0 for a new file).")
    return value


def _feedback_for(value: object) -> str | None:
    return None if value is None else require_id(value, "feedbackFor")


def parse_parts(body: Mapping[str, Any], count: int) -> list[tuple[int, str]]:
    """`{"parts": [{"partNumber", "etag"}]}`: every part from 1 to `count`, in order, once."""
    parts = body.get("parts")
    if not isinstance(parts, list) or not parts:
        raise BadRequestError("parts must be the list of every part's partNumber and etag.")
    parsed: list[tuple[int, str]] = []
    for index, part in enumerate(parts):
        number = part.get("partNumber") if isinstance(part, dict) else None
        etag = part.get("etag") if isinstance(part, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(etag, str) or not etag:
            raise BadRequestError(f"parts[{index}] must be {{partNumber: integer, etag: string}}.")
        parsed.append((number, etag if etag.startswith('"') else f'"{etag}"'))
    numbers = [number for number, _ in parsed]
    if numbers != list(range(1, count + 1)):
        raise BadRequestError(f"parts must list parts 1 to {count} in order, each once.")
    return parsed


def check_parts(upload: UploadRecord, parts: list[tuple[int, str]], arrived: list[UploadedPart]) -> None:
    """Each part arrived, is the one the client means, and has its exact length (else 400, nothing lost:
    the client sends that part again)."""
    by_number = {part.number: part for part in arrived}
    problems = []
    for number, etag in parts:
        got = by_number.get(number)
        if got is None:
            problems.append(f"part {number} has not arrived")
        elif got.etag.strip('"') != etag.strip('"'):
            problems.append(f"part {number} arrived with another etag")
        elif got.size != upload.part_length(number):
            problems.append(f"part {number} has {got.size} bytes, not {upload.part_length(number)}")
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise BadRequestError(f"The upload cannot be completed: {shown}.")


def parse_size(raw: object) -> int:
    # bool is an int in Python; `"size": true` is not a size.
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise BadRequestError("size must be an integer number of bytes.")
    if raw < 1:
        raise BadRequestError("size must be at least 1 byte.")
    return raw
