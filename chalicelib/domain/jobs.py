"""Long work off the request: what may take longer than API Gateway's 29 seconds.

`POST /v1/assignments/{id}/archive`, `POST /v1/me/export` and `POST /v1/users/{id}/export` (ZIPs) and
`POST /v1/years/close` (a whole school's classes) check the caller's right at once (the same 404/403
as their direct twins), record a job and queue it, and answer 202 with the job. The `run_jobs`
function takes it from the queue and does the work as the caller, so a right lost meanwhile fails
the job instead of leaking anything. `GET /v1/jobs/{id}` tells its state (and, for work without a
ZIP, its `result`) to its requester only; a ZIP's `GET /v1/jobs/{id}/content` answers 302 to a
short-lived URL once `ready`. A job that fails for the caller's reasons ends `failed` with the
reason; one that fails for a part's (storage busy) is retried by the queue, and lands in its
dead-letter queue after five tries.
The ZIPs live in `exports/`, which the bucket empties after a day; the job records expire with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.models import Principal, Role, is_valid_id, iso, new_id, utcnow
from chalicelib.domain.ports import ObjectStore
from chalicelib.domain.schema import SCHOOL, TIME, Codec, Field, Schema, Shown, ident
from chalicelib.errors import BadRequestError, CartableError, NotAvailableError, NotFoundError

log = logging.getLogger("cartable.jobs")

LIFETIME = timedelta(days=1)  # as the exports/ objects (the bucket's lifecycle rule)


@dataclass(frozen=True)
class Job:
    id: str
    school: str
    requester: str
    role: str
    kind: str  # "archive" (an assignment's submissions) or "export" (a user's files)
    subject: str  # the assignment or the user
    status: str  # pending, ready or failed
    created_at: datetime
    finished_at: datetime | None = None
    target: str | None = None
    name: str | None = None
    reason: str | None = None
    summary: dict[str, Any] | None = None

    @property
    def principal(self) -> Principal:
        return Principal(user_id=self.requester, school=self.school, role=Role(self.role))


class JobStore(Protocol):
    def put_job(self, job: Job) -> None: ...

    def get_job(self, job_id: str) -> Job | None: ...

    def finish_job(self, job: Job) -> None: ...


class JobQueue(Protocol):
    def send_job(self, job_id: str) -> None: ...


@dataclass(frozen=True)
class JobResult:
    """What a job made: a ZIP in `exports/` (its key and download name), or a summary of its work."""

    target: str | None = None
    name: str | None = None
    summary: dict[str, Any] | None = None


# kind → (check the caller's right now, do the work as the caller)
Check = Callable[[Principal, str], None]
Build = Callable[[Principal, str], JobResult]


def _numbers(value: Any) -> Any:
    """A summary as it was written: DynamoDB answers every number as a Decimal (counts would show 1.0)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return value


JOB = Schema(
    Job,
    ident("job"),
    Field("kind"),
    Field("subject"),
    Field("status"),
    Field("reason"),
    Field("created_at", TIME),
    Field("finished_at", TIME),
    Shown("expiresAt", lambda job: iso(job.created_at + LIFETIME)),
    Field("summary", Codec(load=_numbers), json="result"),
    SCHOOL,
    Field("requester", json=None),
    Field("role", json=None),
    Field("target", json=None),
    Field("name", json=None),
)


def job_json(job: Job) -> dict[str, Any]:
    return JOB.to_json(job)


class JobService:
    def __init__(
        self,
        store: JobStore,
        queue: JobQueue,
        objects: ObjectStore,
        kinds: dict[str, tuple[Check, Build]],
        download_ttl: int,
    ) -> None:
        self._store = store
        self._queue = queue
        self._objects = objects
        self._kinds = kinds
        self._download_ttl = download_ttl

    def start(self, principal: Principal, kind: str, subject: str) -> dict[str, Any]:
        check, _ = self._kinds[kind]
        check(principal, subject)
        job = Job(
            id=new_id(),
            school=principal.school,
            requester=principal.user_id,
            role=principal.role.value,
            kind=kind,
            subject=subject,
            status="pending",
            created_at=utcnow().replace(microsecond=0),
        )
        self._store.put_job(job)
        self._queue.send_job(job.id)
        log.info("job queued id=%s kind=%s subject=%s by=%s", job.id, kind, subject, principal.user_id)
        return job_json(job)

    def run(self, job_id: str) -> None:
        """Build one job's ZIP (the `run_jobs` function); a repeated message changes nothing."""
        job = self._store.get_job(job_id) if is_valid_id(job_id) else None
        if job is None or job.status != "pending":
            return
        _, build = self._kinds[job.kind]
        try:
            made = build(job.principal, job.subject)
        except CartableError as error:
            if error.status >= 500:
                raise  # a part is down: the queue tries again
            self._store.finish_job(self._done(job, "failed", reason=error.code))
            return
        self._store.finish_job(self._done(job, "ready", target=made.target, name=made.name, summary=made.summary))
        log.info("job ready id=%s kind=%s", job.id, job.kind)

    @staticmethod
    def _done(job: Job, status: str, **fields: Any) -> Job:
        from dataclasses import replace

        return replace(job, status=status, finished_at=utcnow().replace(microsecond=0), **fields)

    def _own(self, principal: Principal, job_id: str) -> Job:
        job = self._store.get_job(job_id) if is_valid_id(job_id) else None
        if job is None or job.school != principal.school or job.requester != principal.user_id:
            raise NotFoundError()
        return job

    def get(self, principal: Principal, job_id: str) -> dict[str, Any]:
        return job_json(self._own(principal, job_id))

    def content(self, principal: Principal, job_id: str) -> str:
        job = self._own(principal, job_id)
        if job.status != "ready" or job.target is None:
            raise NotAvailableError(f"The job is {job.status}; there is nothing to download yet.")
        if utcnow() >= job.created_at + LIFETIME:
            raise NotFoundError().because("the ZIP expired")
        return self._objects.presign_get(job.target, job.name or "cartable.zip", "application/zip", self._download_ttl)


def job_id_of(body: str) -> str:
    """The job id an SQS message of the jobs queue carries."""
    import json

    try:
        value = json.loads(body).get("jobId")
    except (ValueError, AttributeError):
        raise BadRequestError("not a job message") from None
    if not isinstance(value, str):
        raise BadRequestError("not a job message")
    return value
