"""The demo school `make dev` seeds, through the HTTP API only, as the people themselves would.

Two classes with their teachers and students, an assignment in each (one already past due, so a
late submission shows), and a few files: class material, a student's draft shared with a friend,
and two submissions. Its people are the demo users of `chalicelib/webapp.py`: in the web client
they sign in through the local OpenID provider (local/oidc, `accounts()` below); this seed and the
tests' scripts take HS256 tokens from the local-only `POST /v1/local/token`.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

log = logging.getLogger("cartable.demo")

MINIMAL_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"

CLASSES: dict[str, dict[str, Any]] = {
    "5B": {
        "name": "5e B — Français",
        "teachers": ["prof-durand"],
        "students": ["eleve-alice", "eleve-bilal", "eleve-chloe"],
    },
    "4A": {"name": "4e A — Sciences", "teachers": ["prof-leroy"], "students": ["eleve-chloe", "eleve-david"]},
}


def accounts(password: str) -> list[dict[str, Any]]:
    """The demo school's people as the local OpenID provider's accounts, with the claims the API reads."""
    from chalicelib.webapp import DEMO_SCHOOL, DEMO_USERS

    def classes_of(user: str) -> list[str]:
        return [cid for cid, klass in CLASSES.items() if user in klass["teachers"] or user in klass["students"]]

    return [
        {
            "id": user.id,
            "name": user.name,
            "role": user.role.value,
            "school": DEMO_SCHOOL,
            "classes": classes_of(user.id),
            "password": password,
        }
        for user in DEMO_USERS
    ]


@dataclass
class DemoSchool:
    """What the seed made, for the curious and for the browser tests."""

    classes: list[str] = field(default_factory=list)
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


class DemoApi:
    """The HTTP API, as one demo user."""

    def __init__(self, base: str, user: str) -> None:
        self.base = base.rstrip("/")
        answer = requests.post(f"{self.base}/v1/local/token", json={"user": user}, timeout=10)
        answer.raise_for_status()
        self.token: str = answer.json()["token"]

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        answer = requests.request(method, f"{self.base}{path}", json=body, headers=headers, timeout=30)
        if answer.status_code != expect:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def upload(self, space: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        """Grant, then send the bytes to the presigned POST, exactly as the web client does."""
        body = {"space": space, "path": "/", "name": name, "size": len(data), "contentType": content_type}
        grant: dict[str, Any] = self.call("POST", "/v1/uploads", body, expect=201)
        form = grant["upload"]
        sent = requests.post(form["url"], data=form["fields"], files={"file": (name, data, content_type)}, timeout=30)
        if sent.status_code not in (200, 201, 204):
            raise RuntimeError(f"storage refused {name}: {sent.status_code} {sent.text[:300]}")
        return grant

    def wait_scanned(self, upload_id: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            status: str = self.call("GET", f"/v1/uploads/{upload_id}")["status"]
            if status != "pending" or time.monotonic() > deadline:
                return status
            time.sleep(0.2)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(api_url: str) -> DemoSchool:
    """Seed the demo school on a fresh local stack (run once per stack: assignments are not idempotent)."""
    demo = DemoSchool()
    direction = DemoApi(api_url, "dir-martin")
    for class_id, klass in CLASSES.items():
        direction.call("PUT", f"/v1/classes/{class_id}", klass)
        demo.classes.append(class_id)

    durand, leroy = DemoApi(api_url, "prof-durand"), DemoApi(api_url, "prof-leroy")
    now = datetime.now(UTC).replace(microsecond=0)
    demo.assignments["redaction"] = durand.call(
        "POST",
        "/v1/classes/5B/assignments",
        {
            "title": "Rédaction : mon quartier",
            "dueAt": stamp(now + timedelta(days=7)),
            "closesAt": stamp(now + timedelta(days=14)),
            "maxSize": 5_000_000,
            "allowedTypes": ["application/pdf", "image/*", "text/plain"],
        },
        expect=201,
    )
    demo.assignments["tp"] = leroy.call(
        "POST",
        "/v1/classes/4A/assignments",
        {
            "title": "Compte rendu de TP : la densité",
            "dueAt": stamp(now - timedelta(days=1)),
            "closesAt": stamp(now + timedelta(days=6)),
            "allowedTypes": ["application/pdf", "image/*"],
        },
        expect=201,
    )

    alice, bilal, david = (DemoApi(api_url, user) for user in ("eleve-alice", "eleve-bilal", "eleve-david"))
    uploads: list[tuple[DemoApi, str, str, str, bytes]] = [
        (
            durand,
            "consignes",
            "class:5B",
            "consignes-redaction.txt",
            "Décrivez votre quartier en 30 lignes.\n".encode(),
        ),
        (leroy, "protocole", "class:4A", "protocole-tp.pdf", MINIMAL_PDF),
        (alice, "brouillon", "me", "brouillon.txt", "Mon quartier est calme le matin…\n".encode()),
        (bilal, "redaction", demo.assignments["redaction"]["space"], "redaction-bilal.txt", b"Mon quartier.\n"),
        (david, "compte-rendu", demo.assignments["tp"]["space"], "tp-david.pdf", MINIMAL_PDF),
    ]
    grants = []
    for user, key, space, name, data in uploads:
        content_type = "application/pdf" if name.endswith(".pdf") else "text/plain"
        grants.append((user, key, user.upload(space, name, data, content_type)))
    for user, key, grant in grants:
        status = user.wait_scanned(grant["uploadId"])
        demo.files[key] = {"id": grant["fileId"], "status": status}
        if status != "available":
            log.warning("demo file %s ended %s", key, status)
    alice.call(
        "POST",
        "/v1/shares",
        {"fileId": demo.files["brouillon"]["id"], "with": {"type": "user", "id": "eleve-bilal"}, "role": "viewer"},
        expect=201,
    )
    log.info(
        "demo school seeded: classes %s, %d assignments, %d files",
        ", ".join(demo.classes),
        len(demo.assignments),
        len(demo.files),
    )
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed the demo school into a running local stack.")
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the API's base URL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    seed(args.api)


if __name__ == "__main__":
    main()
