"""Storage quotas per user drive and class folder, configured per school as data (policies/quotas.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.domain.models import SpaceKind, SpaceRef

QUOTAS_PATH = Path(__file__).resolve().parents[2] / "policies" / "quotas.json"


def quota_key(school: str, space: SpaceRef) -> str | None:
    """The quota a space's bytes count against: a user's drive or a class folder; None for the rest."""
    return f"{school}#{space}" if space.kind in (SpaceKind.USER, SpaceKind.CLASS) else None


@dataclass(frozen=True)
class Limits:
    user: int
    klass: int


@dataclass(frozen=True)
class QuotaPolicy:
    default: Limits
    schools: dict[str, Limits]

    def charge(self, school: str, space: SpaceRef) -> tuple[str, int] | None:
        """The quota an upload to `space` is charged to, and its limit; None for assignments."""
        key = quota_key(school, space)
        if key is None:
            return None
        limits = self.schools.get(school, self.default)
        return key, limits.user if space.kind is SpaceKind.USER else limits.klass


def _limits(raw: Any, where: str) -> Limits:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), int) and raw[k] >= 0 for k in ("user", "class")):
        raise ValueError(f"{where} must give `user` and `class` as byte counts")
    return Limits(user=raw["user"], klass=raw["class"])


def parse_quotas(raw: Any) -> QuotaPolicy:
    if not isinstance(raw, dict) or not isinstance(raw.get("schools", {}), dict):
        raise ValueError("quotas must be an object with `default` and `schools`")
    schools = {str(k): _limits(v, f"schools.{k}") for k, v in raw.get("schools", {}).items()}
    return QuotaPolicy(default=_limits(raw.get("default"), "default"), schools=schools)


def load_quotas(path: Path | None = None) -> QuotaPolicy:
    """The quotas of this deployment, read once per cold start."""
    return parse_quotas(json.loads((path or QUOTAS_PATH).read_text(encoding="utf-8")))
