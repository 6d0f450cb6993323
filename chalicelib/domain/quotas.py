"""Storage quotas per user drive, class folder and pupil's submission to an assignment, configured per
school as data (policies/quotas.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.domain.models import SpaceKind, SpaceRef

QUOTAS_PATH = Path(__file__).resolve().parents[2] / "policies" / "quotas.json"


def quota_key(school: str, space: SpaceRef, owner: str) -> str:
    """The quota a file's bytes count against: a user's drive, a class folder, or in an assignment
    one pupil's own submission (so one pupil cannot fill what the class shares)."""
    if space.kind is SpaceKind.ASSIGNMENT:
        return f"{school}#{space}#{owner}"
    return f"{school}#{space}"


# A pupil's submission to one assignment, unless the school says otherwise: homework is a few files.
DEFAULT_SUBMISSION = 1024**3


@dataclass(frozen=True)
class Limits:
    user: int
    klass: int
    submission: int = DEFAULT_SUBMISSION


@dataclass(frozen=True)
class QuotaPolicy:
    default: Limits
    schools: dict[str, Limits]

    def charge(self, school: str, space: SpaceRef, owner: str) -> tuple[str, int]:
        """The quota an upload by `owner` to `space` is charged to, and its limit."""
        limits = self.schools.get(school, self.default)
        limit = {SpaceKind.USER: limits.user, SpaceKind.CLASS: limits.klass}.get(space.kind, limits.submission)
        return quota_key(school, space, owner), limit


def _limits(raw: Any, where: str) -> Limits:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), int) and raw[k] >= 0 for k in ("user", "class")):
        raise ValueError(f"{where} must give `user` and `class` as byte counts")
    submission = raw.get("submission", DEFAULT_SUBMISSION)
    if not isinstance(submission, int) or submission < 0:
        raise ValueError(f"{where}.submission must be a byte count")
    return Limits(user=raw["user"], klass=raw["class"], submission=submission)


def parse_quotas(raw: Any) -> QuotaPolicy:
    if not isinstance(raw, dict) or not isinstance(raw.get("schools", {}), dict):
        raise ValueError("quotas must be an object with `default` and `schools`")
    schools = {str(k): _limits(v, f"schools.{k}") for k, v in raw.get("schools", {}).items()}
    return QuotaPolicy(default=_limits(raw.get("default"), "default"), schools=schools)


def load_quotas(path: Path | None = None) -> QuotaPolicy:
    """The quotas of this deployment, read once per cold start."""
    return parse_quotas(json.loads((path or QUOTAS_PATH).read_text(encoding="utf-8")))
