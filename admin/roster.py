"""A roster CSV checked on this machine, line by line, as the API will read it: the dry run's preview.

The rules are the contract's (`class_id,class_name,user_id,role`, ids `[A-Za-z0-9_-]{1,64}`, `role` teacher
or student, a class named the same on every line, a person once per class); the API stays the judge.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from admin.api import AdminError

COLUMNS = ("class_id", "class_name", "user_id", "role")
MAX_BYTES = 5 * 1024 * 1024  # the API's limit (413 above)
MAX_CLASS_NAME = 200
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass
class Preview:
    """What a CSV would apply: members per class (user → role) and the lines it would refuse."""

    classes: dict[str, dict[str, str]] = field(default_factory=dict)
    names: dict[str, tuple[str, int]] = field(default_factory=dict)  # class → (name, its first line)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)  # (class, user) → its line
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def members(self) -> int:
        return sum(len(people) for people in self.classes.values())

    def take(self, line: int, class_id: str, name: str, user: str, role: str) -> None:
        problem = line_problem(class_id, name, user, role)
        if problem:
            self.errors.append((line, problem))
            return
        first = self.names.setdefault(class_id, (name, line))
        if first[0] != name:
            self.errors.append((line, f"class {class_id} is named {first[0]!r} on line {first[1]}, not {name!r}"))
            return
        people = self.classes.setdefault(class_id, {})
        if user in people:
            what = "duplicates" if people[user] == role else f"contradicts ({people[user]})"
            self.errors.append((line, f"{user} in {class_id} {what} line {self.lines[class_id, user]}"))
            return
        people[user] = role
        self.lines[class_id, user] = line


def line_problem(class_id: str, name: str, user: str, role: str) -> str | None:
    """Why the API would refuse this line, or None."""
    if not ID.fullmatch(class_id):
        return "class_id must match [A-Za-z0-9_-]{1,64}"
    if not name or len(name) > MAX_CLASS_NAME:
        return f"class_name must be 1 to {MAX_CLASS_NAME} characters"
    for char in name:
        if char in BIDI_CONTROLS:
            return "class_name must not contain bidirectional control characters"
        if unicodedata.category(char) in ("Cc", "Cs"):
            return "class_name must not contain control characters"
    if not ID.fullmatch(user):
        return "user_id must match [A-Za-z0-9_-]{1,64}"
    if role not in ("teacher", "student"):
        return f"role must be teacher or student, not {role[:20]!r}"
    return None


def check_size(raw: bytes) -> None:
    if len(raw) > MAX_BYTES:
        raise AdminError("payload_too_large", f"a roster import is limited to {MAX_BYTES} bytes")


def preview(raw: bytes) -> Preview:
    """Read the CSV as the API does; a bad header or a file that is not UTF-8 text refuses it whole."""
    check_size(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AdminError("bad_request", "The CSV must be UTF-8 text.") from exc
    if "\x00" in text:
        raise AdminError("bad_request", "The CSV must be text, not binary data.")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise AdminError("bad_request", f"The CSV header must name {','.join(COLUMNS)}; missing: {', '.join(missing)}.")
    at = {c: header.index(c) for c in COLUMNS}
    result = Preview()
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                result.errors.append((reader.line_num, f"expected {len(header)} fields, found {len(row)}"))
                continue
            name = unicodedata.normalize("NFC", row[at["class_name"]]).strip()
            cells = (row[at["class_id"]].strip(), name, row[at["user_id"]].strip(), row[at["role"]].strip().lower())
            result.take(reader.line_num, *cells)
    except csv.Error as exc:
        result.errors.append((reader.line_num, f"unreadable CSV: {exc}"))
    return result
