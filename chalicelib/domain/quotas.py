"""Storage quotas per user drive, class folder and pupil's submission to an assignment, configured per
school as data (policies/quotas.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.domain.models import SpaceKind, SpaceRef, UploadRecord

QUOTAS_PATH = Path(__file__).resolve().parents[2] / "policies" / "quotas.json"


def quota_key(school: str, space: SpaceRef, owner: str) -> str:
    """The quota a file's bytes count against: a user's drive, a class folder, or in an assignment
    one pupil's own submission (so one pupil cannot fill what the class shares)."""
    if space.kind is SpaceKind.ASSIGNMENT:
        return f"{school}#{space}#{owner}"
    return f"{school}#{space}"


# A pupil's submission to one assignment, unless the school says otherwise: homework is a few files.
DEFAULT_SUBMISSION = 1024**3
# Grants waiting for their bytes at once: a user's in all (a batch is at most 100), a pupil's in one assignment.
DEFAULT_PENDING_USER = 300
DEFAULT_PENDING_SUBMISSION = 50


def pending_counters(school: str, space: SpaceRef, owner: str) -> list[str]:
    """The counts of waiting grants a grant by `owner` into `space` joins: the user's own, and in an
    assignment the pupil's submission (so one pupil's grants never crowd the class's)."""
    counters = [f"USER#{school}#{owner}"]
    if space.kind is SpaceKind.ASSIGNMENT:
        counters.append(f"SUBMISSION#{quota_key(school, space, owner)}")
    return counters


def upload_counters(upload: UploadRecord) -> list[str]:
    """The counts a grant joined, which its verdict (whatever it is) leaves."""
    return pending_counters(upload.school, upload.space, upload.owner)


@dataclass(frozen=True)
class Limits:
    user: int
    klass: int
    submission: int = DEFAULT_SUBMISSION
    pending_user: int = DEFAULT_PENDING_USER
    pending_submission: int = DEFAULT_PENDING_SUBMISSION


@dataclass(frozen=True)
class QuotaPolicy:
    default: Limits
    schools: dict[str, Limits]

    def charge(self, school: str, space: SpaceRef, owner: str) -> tuple[str, int]:
        """The quota an upload by `owner` to `space` is charged to, and its limit."""
        limits = self.schools.get(school, self.default)
        limit = {SpaceKind.USER: limits.user, SpaceKind.CLASS: limits.klass}.get(space.kind, limits.submission)
        return quota_key(school, space, owner), limit

    def pending(self, school: str, space: SpaceRef, owner: str) -> tuple[tuple[str, int], ...]:
        """Each count of waiting grants a grant by `owner` into `space` joins, with its limit."""
        limits = self.schools.get(school, self.default)
        counters = pending_counters(school, space, owner)
        return tuple(zip(counters, (limits.pending_user, limits.pending_submission), strict=False))


def _limits(raw: Any, where: str) -> Limits:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), int) and raw[k] >= 0 for k in ("user", "class")):
        raise ValueError(f"{where} must give `user` and `class` as byte counts")
    submission = raw.get("submission", DEFAULT_SUBMISSION)
    if not isinstance(submission, int) or submission < 0:
        raise ValueError(f"{where}.submission must be a byte count")
    pending = raw.get("pending", {})
    counts = {k: pending.get(k, d) if isinstance(pending, dict) else None for k, d in _PENDING_DEFAULTS.items()}
    if not all(isinstance(v, int) and v > 0 for v in counts.values()):
        raise ValueError(f"{where}.pending must give `user` and `submission` as counts of at least 1")
    return Limits(
        user=raw["user"],
        klass=raw["class"],
        submission=submission,
        pending_user=int(counts["user"] or DEFAULT_PENDING_USER),
        pending_submission=int(counts["submission"] or DEFAULT_PENDING_SUBMISSION),
    )


_PENDING_DEFAULTS = {"user": DEFAULT_PENDING_USER, "submission": DEFAULT_PENDING_SUBMISSION}


def parse_quotas(raw: Any) -> QuotaPolicy:
    if not isinstance(raw, dict) or not isinstance(raw.get("schools", {}), dict):
        raise ValueError("quotas must be an object with `default` and `schools`")
    schools = {str(k): _limits(v, f"schools.{k}") for k, v in raw.get("schools", {}).items()}
    return QuotaPolicy(default=_limits(raw.get("default"), "default"), schools=schools)


def load_quotas(path: Path | None = None) -> QuotaPolicy:
    """The quotas of this deployment, read once per cold start."""
    return parse_quotas(json.loads((path or QUOTAS_PATH).read_text(encoding="utf-8")))
