"""The catalog in one DynamoDB table: files, uploads, versions, folders, classes and memberships.

Keys (pk / sk):
  FILE#{fileId} / FILE              the file: current version and state; GSI `dir` lists it in its folder
  FILE#{fileId} / VERSION#{n:08d}   each version that became available
  UPLOAD#{uploadId} / UPLOAD        one grant and its verdict
  NAME#{school}#{space}#{path}{entry} / NAME  claims a name in a folder (one file per name); in an
                                    assignment space the entry is `{owner}/{name}`: each student's own
  SCHOOL#{school} / ASSIGNMENT#{id} an assignment (GSI: ASSIGNMENTS#{school}#{classId})
  FOLDER#{school}#{space}#{path} / FOLDER     a folder; GSI `dir` lists it in its parent
  SCHOOL#{school} / CLASS#{classId} a class and its members
  MEMBER#{school}#{userId} / CLASS#{classId}  a user's membership of a class (role)
  FILE#{fileId} / SHARE#{shareId}   a share of the file (GSI: SHAREDWITH#{school}#{kind}#{id})
  SHARE#{shareId} / SHARE           the same share, found by its id
  AUDIT#{school} / {at}#{id}        the school's audit trail (GSI: AUDITUSER#{school}#{actor})
  CHG#{school}#{space} / {seq:012d}  a file's latest change in its space's feed (HEAD#… / HEAD: the counter)
  SHA#{school}#{space}#{sha256} / FILE#{fileId}  where clean bytes of a digest already are (dedup)
  NOTIF#{school}#{audience} / {at}#{id}  a notification of a user, a class or its teachers (TTL 90 days)
  JOB#{id} / JOB                            a ZIP built off the request (TTL: a day after its ZIP goes)
  RESCAN / RESCAN                           how far the current rescan got
  RETAIN#{school}#{year} / RETAIN           when a closed year falls past the retention (due index)
A trashed file leaves its folder for gsi1pk = `TRASH#{school}#{space}`, and the sparse GSI `due`
(gsi2pk = `DUE#trash#{day}`) finds it when its purge falls due; a grant is in it as
`DUE#grant#{day}` until its verdict, so the sweeper finds grants that expired unused.
GSI `dir` (gsi1pk, gsi1sk) is overloaded: for files and folders, gsi1pk = `{school}#{space}#{folder}`
and gsi1sk = `D#{name}` / `F#{name}`, so one query returns a folder's subfolders then its files in
name order; for shares it lists what a user or class received; for audit, one actor's entries.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.domain.content import Verdict
from chalicelib.domain.jobs import LIFETIME as JOB_LIFETIME
from chalicelib.domain.jobs import Job
from chalicelib.domain.models import (
    Assignment,
    AuditEntry,
    ClassRecord,
    FileRecord,
    FileStatus,
    FileVersion,
    Membership,
    Share,
    ShareRole,
    SpaceKind,
    SpaceRef,
    UploadRecord,
    iso,
    parse_iso,
)
from chalicelib.domain.notifications import Notification, NotificationType
from chalicelib.domain.ports import Change, ClassPage, CleanCopy, Page
from chalicelib.domain.quotas import quota_key
from chalicelib.domain.settlement import FileChange, Served, settle
from chalicelib.errors import (
    AlreadyExistsError,
    BadRequestError,
    QuotaExceededError,
    ServiceUnavailableError,
    StaleWriteError,
)

DIR_INDEX = "dir"
DUE_INDEX = "due"
TRASH_LIFE = timedelta(days=30)  # a deleted file can be restored this long, then it is purged
AUDIT_RETENTION_SECONDS = 400 * 24 * 3600  # a school year and its appeals; then DynamoDB's TTL drops it
THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "500",  # an endpoint's bare HTTP error (a proxy, an S3-compatible gateway, moto under load)
    "502",
    "503",
    "504",
}
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Item = dict[str, Any]


def dump(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict to DynamoDB's wire form; None values are left out."""
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def load(raw: Mapping[str, Any]) -> Item:
    return {k: _deserializer.deserialize(v) for k, v in raw.items()}


def dir_key(school: str, space: SpaceRef, path: str) -> str:
    return f"{school}#{space}#{path}"


def entry_name(space: SpaceRef, belongs_to: str, name: str, feedback: bool = False) -> str:
    """A file's name in its folder's index: students' submissions (and their feedback) never collide or mix."""
    if space.kind is not SpaceKind.ASSIGNMENT:
        return name
    return f"{belongs_to}/~feedback/{name}" if feedback else f"{belongs_to}/{name}"


def translate(exc: ClientError) -> Exception:
    """A wire error as a domain error: lost races become StaleWriteError, throttling 503."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return StaleWriteError("The record changed meanwhile.")
    if code == "TransactionCanceledException":
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if "ConditionalCheckFailed" in reasons:
            failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
            return StaleWriteError("The record changed meanwhile.", failed)
        return ServiceUnavailableError("The catalog is busy; try again shortly.")
    if code in THROTTLING or code == "TransactionConflictException":
        return ServiceUnavailableError("The catalog is busy; try again shortly.")
    return exc


def encode_cursor(key: Mapping[str, Any]) -> str:
    raw = json.dumps(load(key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, expected: Mapping[str, str]) -> dict[str, Any]:
    """An ExclusiveStartKey from a cursor; only string keys, pinned to the partition asked for."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise BadRequestError("cursor is not valid.") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise BadRequestError("cursor is not valid.")
    for name, value in expected.items():
        if data.get(name) != value:
            raise BadRequestError("cursor is not valid.")
    return dump(data)


def _entry(file: FileRecord) -> str:
    return entry_name(file.space, file.belongs_to, file.name, file.is_feedback)


def file_from_item(item: Item) -> FileRecord:
    return FileRecord(
        id=item["fileId"],
        school=item["school"],
        space=SpaceRef.from_stored(item["space"]),
        path=item["path"],
        name=item["name"],
        size=int(item["size"]),
        content_type=item["contentType"],
        sha256=item.get("sha256"),
        status=FileStatus(item["status"]),
        reason=item.get("reason") or None,
        version=int(item["version"]),
        owner=item["owner"],
        created_at=parse_iso(item["createdAt"]),
        updated_at=parse_iso(item["updatedAt"]),
        object_key=item.get("objectKey"),
        subject=item.get("subject"),
        trashed_at=parse_iso(item["trashedAt"]) if item.get("trashedAt") else None,
        arrived_at=parse_iso(item["arrivedAt"]) if item.get("arrivedAt") else None,
    )


GRANT_GRACE = timedelta(minutes=30)  # an unused grant is swept this long after it expires


def due_key(kind: str, when: datetime) -> tuple[str, str]:
    """The day partition and sort key of work of a kind due at `when` in the sparse `due` index."""
    stamp = iso(when)
    return f"DUE#{kind}#{stamp[:10]}", stamp


def reserve_action(upload: UploadRecord) -> dict[str, Any]:
    """Add the upload's size to its quota's use, on condition it stays within the limit: concurrent
    grants cannot overshoot, whatever their order."""
    assert upload.quota_key is not None and upload.quota_limit is not None
    return {
        "Update": {
            "Key": dump({"pk": f"QUOTA#{upload.quota_key}", "sk": "QUOTA"}),
            "UpdateExpression": "ADD used :size",
            "ConditionExpression": "attribute_not_exists(used) OR used <= :room",
            "ExpressionAttributeValues": dump({":size": upload.size, ":room": upload.quota_limit - upload.size}),
        }
    }


def release_action(quota_key: str, size: int) -> dict[str, Any]:
    return {
        "Update": {
            "Key": dump({"pk": f"QUOTA#{quota_key}", "sk": "QUOTA"}),
            "UpdateExpression": "ADD used :minus",
            "ExpressionAttributeValues": dump({":minus": -size}),
        }
    }


def notification_item(note: Notification) -> Item:
    """A notification in its audience's feed partition, newest last in sort order; gone after 90 days.
    Until published it is also in the sparse `due` index (`DUE#notify#{day}`): the outbox."""
    outbox, stamp = due_key("notify", note.at)
    return {
        "pk": f"NOTIF#{note.school}#{note.audience}",
        "sk": note.position,
        "gsi2pk": outbox,
        "gsi2sk": f"{stamp}#{note.id}",
        "notificationId": note.id,
        "school": note.school,
        "audience": note.audience,
        "type": note.type.value,
        "at": note.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "fileId": note.file_id,
        "space": note.space,
        "name": note.name,
        "version": note.version,
        "reason": note.reason,
        "late": note.late,
        "by": note.by,
        "ttl": int(note.expires_at.timestamp()),
    }


def notification_from_item(item: Item) -> Notification:
    return Notification(
        id=item["notificationId"],
        school=item["school"],
        audience=item["audience"],
        type=NotificationType(item["type"]),
        at=datetime.strptime(item["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
        file_id=item["fileId"],
        space=item["space"],
        name=item["name"],
        version=int(item["version"]) if "version" in item else None,
        reason=item.get("reason") or None,
        late=item.get("late"),
        by=item.get("by"),
    )


def blob_item(file: Item, version: int) -> Item:
    """Where clean bytes of a digest already are in a space: the file's version that holds them."""
    return {
        "pk": f"SHA#{file['school']}#{file['space']}#{file['sha256']}",
        "sk": f"FILE#{file['fileId']}",
        "fileId": file["fileId"],
        "version": version,
        "objectKey": file["objectKey"],
        "size": file["size"],
        "contentType": file["contentType"],
        "owner": file["owner"],
        "subject": file.get("subject"),
    }


def upload_from_item(item: Item) -> UploadRecord:
    return UploadRecord(
        id=item["uploadId"],
        file_id=item["fileId"],
        school=item["school"],
        space=SpaceRef.from_stored(item["space"]),
        path=item["path"],
        name=item["name"],
        size=int(item["size"]),
        content_type=item["contentType"],
        sha256=item.get("sha256"),
        owner=item["owner"],
        status=FileStatus(item["status"]),
        reason=item.get("reason") or None,
        created_at=parse_iso(item["createdAt"]),
        expires_at=parse_iso(item["expiresAt"]),
        key=item["key"],
        allowed_types=tuple(item["allowedTypes"]) if "allowedTypes" in item else None,
        base_version=int(item["baseVersion"]) if "baseVersion" in item else None,
        quota_key=item.get("quotaKey"),
        multipart_id=item.get("multipartId"),
        order=item.get("grantOrder"),
        completed_at=parse_iso(item["completedAt"]) if "completedAt" in item else None,
        part_size=int(item["partSize"]) if "partSize" in item else None,
    )


def _membership_changes(record: ClassRecord, before: ClassRecord | None) -> list[dict[str, Any]]:
    """The member items to put and delete so that they match the class's lists exactly."""
    wanted = {u: "teacher" for u in record.teachers} | {u: "student" for u in record.students}
    had = {} if before is None else {u: "teacher" for u in before.teachers} | {u: "student" for u in before.students}
    requests: list[dict[str, Any]] = []
    for user, role in wanted.items():
        if had.get(user) != role:
            member = {
                "pk": f"MEMBER#{record.school}#{user}",
                "sk": f"CLASS#{record.id}",
                "classId": record.id,
                "role": role,
            }
            requests.append({"PutRequest": {"Item": dump(member)}})
    for user in had.keys() - wanted.keys():
        key = {"pk": f"MEMBER#{record.school}#{user}", "sk": f"CLASS#{record.id}"}
        requests.append({"DeleteRequest": {"Key": dump(key)}})
    return requests


def share_from_item(item: Item) -> Share:
    expires = item.get("expiresAt")
    return Share(
        id=item["shareId"],
        school=item["school"],
        file_id=item["fileId"],
        target_kind=item["targetKind"],
        target_id=item["targetId"],
        role=ShareRole(item["role"]),
        expires_at=parse_iso(expires) if expires else None,
        created_by=item["createdBy"],
        created_at=parse_iso(item["createdAt"]),
    )


def audit_item(entry: AuditEntry) -> Item:
    stamp = f"{entry.at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{entry.id}"
    return {
        "pk": f"AUDIT#{entry.school}",
        "sk": stamp,
        "gsi1pk": f"AUDITUSER#{entry.school}#{entry.actor}",
        "gsi1sk": stamp,
        "auditId": entry.id,
        "school": entry.school,
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "decision": entry.decision,
        "reason": entry.reason,
        "at": iso(entry.at),
        "ttl": int(entry.at.timestamp()) + AUDIT_RETENTION_SECONDS,
    }


def audit_from_item(item: Item) -> AuditEntry:
    return AuditEntry(
        id=item["auditId"],
        school=item["school"],
        actor=item["actor"],
        role=item["role"],
        action=item["action"],
        target=item["target"],
        decision=item["decision"],
        reason=item["reason"],
        at=parse_iso(item["at"]),
    )


def assignment_from_item(item: Item) -> Assignment:
    closes = item.get("closesAt")
    return Assignment(
        id=item["assignmentId"],
        school=item["school"],
        class_id=item["classId"],
        title=item["title"],
        due_at=parse_iso(item["dueAt"]),
        closes_at=parse_iso(closes) if closes else None,
        max_size=int(item["maxSize"]) if "maxSize" in item else None,
        allowed_types=tuple(item["allowedTypes"]) if "allowedTypes" in item else None,
        created_by=item["createdBy"],
        created_at=parse_iso(item["createdAt"]),
        archived_at=parse_iso(item["archivedAt"]) if "archivedAt" in item else None,
    )


def version_from_item(item: Item) -> FileVersion:
    return FileVersion(
        file_id=str(item["pk"]).removeprefix("FILE#"),
        version=int(item["version"]),
        size=int(item["size"]),
        content_type=item["contentType"],
        sha256=item["sha256"],
        object_key=item["objectKey"],
        owner=item["owner"],
        created_at=parse_iso(item["createdAt"]),
    )


def _job_item(job: Job) -> Item:
    return {
        "pk": f"JOB#{job.id}",
        "sk": "JOB",
        "jobId": job.id,
        "school": job.school,
        "requester": job.requester,
        "role": job.role,
        "kind": job.kind,
        "subject": job.subject,
        "status": job.status,
        "createdAt": iso(job.created_at),
        "finishedAt": iso(job.finished_at) if job.finished_at else None,
        "target": job.target,
        "name": job.name,
        "reason": job.reason,
        "summary": job.summary,
        "ttl": int((job.created_at + JOB_LIFETIME).timestamp()) + 86400,
    }


def class_from_item(item: Item) -> ClassRecord:
    return ClassRecord(
        id=item["classId"],
        school=item["school"],
        name=item["name"],
        teachers=tuple(item.get("teachers", [])),
        students=tuple(item.get("students", [])),
        archived_at=parse_iso(item["archivedAt"]) if "archivedAt" in item else None,
        year=item.get("year"),
    )


class DynamoCatalog:
    """The Catalog port over one DynamoDB table, with an injected low-level client."""

    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    # -- plumbing -------------------------------------------------------------------------
    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._db, operation)(**kwargs)
        except ClientError as exc:
            raise translate(exc) from exc
        return result

    def _get(self, pk: str, sk: str) -> Item | None:
        raw = self._call("get_item", TableName=self._table, Key=dump({"pk": pk, "sk": sk}), ConsistentRead=True).get(
            "Item"
        )
        return load(raw) if raw else None

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        for action in actions:
            next(iter(action.values()))["TableName"] = self._table
        self._call("transact_write_items", TransactItems=actions)

    # -- files and uploads ------------------------------------------------------------------
    def get_file(self, school: str, file_id: str) -> FileRecord | None:
        """A file of the school; one in the trash is not found."""
        item = self._get(f"FILE#{file_id}", "FILE")
        if item is None or item.get("school") != school or "trashedAt" in item:
            return None
        return file_from_item(item)

    def find_file_id(
        self, school: str, space: SpaceRef, path: str, name: str, owner: str, feedback: bool = False
    ) -> str | None:
        item = self._get(f"NAME#{school}#{space}#{path}{entry_name(space, owner, name, feedback)}", "NAME")
        return None if item is None else str(item["fileId"])

    def create_file(
        self,
        file: FileRecord,
        upload: UploadRecord,
        folders: Sequence[tuple[str, str]],
        audit: AuditEntry | None = None,
    ) -> None:
        """A new file, its name claim, its first grant, its folders and its audit entry, in one transaction."""
        claim = {
            "pk": f"NAME#{file.school}#{file.space}#{file.path}{_entry(file)}",
            "sk": "NAME",
            "fileId": file.id,
        }
        actions: list[dict[str, Any]] = [
            {"Put": {"Item": dump(claim), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": dump(self._file_item(file)), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": dump(self._upload_item(upload)), "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
        for parent, name in folders:
            folder = f"{parent}{name}/"
            item = {
                "pk": f"FOLDER#{file.school}#{file.space}#{folder}",
                "sk": "FOLDER",
                "gsi1pk": dir_key(file.school, file.space, parent),
                "gsi1sk": f"D#{name}",
                "name": name,
            }
            actions.append({"Put": {"Item": dump(item)}})
        try:
            self._transact_grant(actions, upload, audit)
        except StaleWriteError as exc:
            raise AlreadyExistsError("A file with that name was just created.") from exc

    def add_upload(self, upload: UploadRecord, audit: AuditEntry | None = None) -> None:
        """A new grant for an existing file; a file never served shows the new grant's state."""
        file = self._get(f"FILE#{upload.file_id}", "FILE")
        if file is None:
            raise StaleWriteError("The file was just removed.")
        file_key = dump({"pk": f"FILE#{upload.file_id}", "sk": "FILE"})
        actions: list[dict[str, Any]] = [
            {"Put": {"Item": dump(self._upload_item(upload)), "ConditionExpression": "attribute_not_exists(pk)"}}
        ]
        if int(file.get("servedVersion", 0)) == 0:
            # Nothing served yet: the file describes its latest attempt.
            values = {
                ":pending": FileStatus.PENDING.value,
                ":size": upload.size,
                ":ct": upload.content_type,
                ":now": iso(upload.created_at),
                ":zero": 0,
            }
            update = {
                "Key": file_key,
                "UpdateExpression": "SET #st = :pending, #sz = :size, contentType = :ct, updatedAt = :now"
                " REMOVE reason, sha256",
                "ConditionExpression": "servedVersion = :zero",
                "ExpressionAttributeNames": {"#st": "status", "#sz": "size"},
                "ExpressionAttributeValues": dump(values),
            }
            actions.append({"Update": update})
        else:
            actions.append({"ConditionCheck": {"Key": file_key, "ConditionExpression": "attribute_exists(pk)"}})
        self._transact_grant(actions, upload, audit)

    def _transact_grant(self, actions: list[dict[str, Any]], upload: UploadRecord, audit: AuditEntry | None) -> None:
        """A grant's writes, its audit entry and its quota reservation, all or nothing; a full quota is
        told apart from a lost race."""
        if audit is not None:
            actions.append({"Put": {"Item": dump(audit_item(audit))}})
        if upload.quota_key is not None:
            actions.append(reserve_action(upload))
        try:
            self._transact(actions)
        except StaleWriteError as exc:
            if upload.quota_key is not None and len(actions) - 1 in exc.failed:
                raise QuotaExceededError("This upload would exceed the storage quota.") from exc
            raise

    def set_multipart(self, upload_id: str, multipart_id: str) -> None:
        """Name the store's multipart upload on a pending grant, once."""
        self._set_on_pending_upload(upload_id, "multipartId", multipart_id, once=True)

    def set_completed(self, upload_id: str, now: datetime) -> None:
        """When a multipart upload's uploader asked to assemble it: its bytes' arrival, by our clock."""
        self._set_on_pending_upload(upload_id, "completedAt", iso(now))

    def _set_on_pending_upload(self, upload_id: str, name: str, value: str, once: bool = False) -> None:
        """Set one attribute of an upload still pending (StaleWriteError once judged, or set when `once`)."""
        self._call(
            "update_item",
            TableName=self._table,
            Key=dump({"pk": f"UPLOAD#{upload_id}", "sk": "UPLOAD"}),
            UpdateExpression="SET #attr = :value",
            ConditionExpression="#st = :pending" + (" AND attribute_not_exists(#attr)" if once else ""),
            ExpressionAttributeNames={"#st": "status", "#attr": name},
            ExpressionAttributeValues=dump({":value": value, ":pending": FileStatus.PENDING.value}),
        )

    def get_upload(self, upload_id: str) -> UploadRecord | None:
        item = self._get(f"UPLOAD#{upload_id}", "UPLOAD")
        return None if item is None else upload_from_item(item)

    def record_verdict(
        self,
        upload: UploadRecord,
        verdict: Verdict,
        sha256: str,
        object_key: str,
        now: datetime,
        arrived_at: datetime | None = None,
    ) -> Verdict:
        """Write a verdict once: the upload leaves pending; a clean one becomes the served version and a
        change of its space's feed. Lost races on the space's sequence are retried here, not rescanned.
        `arrived_at` is when storage received the bytes (its clock, never the device's); `now` if unknown.
        Answers the verdict written: a clean one may end `rejected` (conflict, superseded, deleted)."""
        arrived = (now if arrived_at is None else min(arrived_at, now)).replace(microsecond=0)
        for attempt in range(6):
            try:
                return self._record_verdict_once(upload, verdict, sha256, object_key, now, arrived)
            except StaleWriteError:
                current = self.get_upload(upload.id)
                if current is None or current.status is not FileStatus.PENDING or attempt == 5:
                    raise
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not a secret
        raise AssertionError("unreachable: the last attempt raises")

    def _record_verdict_once(
        self,
        upload: UploadRecord,
        verdict: Verdict,
        sha256: str,
        object_key: str,
        now: datetime,
        arrived: datetime | None = None,
    ) -> Verdict:
        """Read the file, settle the verdict against it (a pure decision), write the settlement on condition."""
        file = self._get(f"FILE#{upload.file_id}", "FILE")
        if file is None:
            raise StaleWriteError("The file of this upload is gone.")
        record = file_from_item(file)
        served = Served(
            file=record,
            version=int(file.get("servedVersion", 0)),
            grant_order=str(file.get("servedGrantOrder", "")),
            trashed="trashedAt" in file,
        )
        assignment = None
        if record.space.kind is SpaceKind.ASSIGNMENT:
            assignment = self.get_assignment(record.school, record.space.id)
        settlement = settle(served, upload, verdict, assignment, now, arrived)
        verdict = settlement.verdict
        stamp = iso(now)
        values = {
            ":st": verdict.status.value,
            ":reason": verdict.reason or "",
            ":sha": sha256,
            ":key": object_key,
            ":now": stamp,
            ":pending": FileStatus.PENDING.value,
        }
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "Key": dump({"pk": f"UPLOAD#{upload.id}", "sk": "UPLOAD"}),
                    "UpdateExpression": (
                        "SET #st = :st, reason = :reason, sha256 = :sha, objectKey = :key, updatedAt = :now"
                        " REMOVE gsi2pk, gsi2sk"
                    ),
                    "ConditionExpression": "#st = :pending",
                    "ExpressionAttributeNames": {"#st": "status"},
                    "ExpressionAttributeValues": dump(values),
                }
            }
        ]
        actions += [{"Put": {"Item": dump(notification_item(n))}} for n in settlement.notifications]
        after = dict(file)
        if settlement.change is FileChange.SERVE:
            assert settlement.version is not None
            actions += self._serve_actions(
                after, upload, verdict, settlement.version, sha256, object_key, stamp, iso(arrived or now)
            )
        elif settlement.change is FileChange.DESCRIBE:
            after.update(status=verdict.status.value, reason=verdict.reason or "", updatedAt=stamp)
        if settlement.release and upload.quota_key is not None:
            actions.append(release_action(upload.quota_key, settlement.release))  # refused bytes are not kept
        if settlement.change is not FileChange.KEEP:
            actions.append(self._put_file_if_unchanged(after, file))
        self._transact(actions)  # KEEP: a refused new version, the served one stays as it was
        return verdict

    def _serve_actions(
        self,
        after: Item,
        upload: UploadRecord,
        verdict: Verdict,
        version: int,
        sha256: str,
        object_key: str,
        stamp: str,
        arrived: str,
    ) -> list[dict[str, Any]]:
        """A clean upload served: the file's new state (in `after`), its version, its digest, its feed change."""
        judged = verdict.content_type or upload.content_type  # what the bytes were judged is what is served
        after.update(
            version=version,
            servedVersion=version,
            status=FileStatus.AVAILABLE.value,
            size=upload.size,
            contentType=judged,
            sha256=sha256,
            objectKey=object_key,
            updatedAt=stamp,
            arrivedAt=arrived,
            servedGrantOrder=upload.order,
        )
        after.pop("reason", None)
        version_item = {
            "pk": f"FILE#{upload.file_id}",
            "sk": f"VERSION#{version:08d}",
            "version": version,
            "uploadId": upload.id,
            "size": upload.size,
            "contentType": judged,
            "sha256": sha256,
            "objectKey": object_key,
            "owner": upload.owner,
            "createdAt": stamp,
            "arrivedAt": arrived,
        }
        actions: list[dict[str, Any]] = [
            {"Put": {"Item": dump(version_item), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": dump(blob_item(after, version))}},
        ]
        return actions + self._change(after, "upsert")

    def notifications(
        self, school: str, audiences: Sequence[str], before: str | None, limit: int, now: datetime
    ) -> tuple[list[Notification], bool]:
        """The newest `limit` notifications of some audiences (older than `before`), merged, and whether
        more may follow: one query per audience, each of at most `limit` + 1 items, whatever the feeds hold."""
        merged: list[Notification] = []
        floor = ""  # a query cut short by DynamoDB's 1 MB says nothing of what is older than its last item
        for audience in audiences:
            condition, values = "pk = :p", {":p": f"NOTIF#{school}#{audience}"}
            if before is not None:
                condition, values = condition + " AND sk < :before", {**values, ":before": before}
            result = self._call(
                "query",
                TableName=self._table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=dump(values),
                ScanIndexForward=False,
                Limit=limit + 1,
            )
            items = [notification_from_item(load(raw)) for raw in result.get("Items", [])]
            if "LastEvaluatedKey" in result and items and len(items) <= limit:
                floor = max(floor, items[-1].position)
            merged += items
        merged = sorted((n for n in merged if n.position >= floor), key=lambda n: n.position, reverse=True)
        page = merged[:limit]
        more = len(merged) > limit or bool(floor)
        # DynamoDB's TTL removes expired items within days, not at once: they are never shown, and as
        # every item lives as long, all that follows an expired one has expired too.
        live = [n for n in page if n.expires_at > now]
        return live, more and len(live) == len(page)

    def claim_unpublished(self, day: str, now: datetime, limit: int) -> list[Notification]:
        """Take notifications of a day out of the outbox, each claimed by one caller only (a conditional
        update), so that concurrent scan batches never publish one twice."""
        result = self._call(
            "query",
            TableName=self._table,
            IndexName=DUE_INDEX,
            KeyConditionExpression="gsi2pk = :p AND gsi2sk <= :now",
            ExpressionAttributeValues=dump({":p": f"DUE#notify#{day}", ":now": f"{iso(now)}#~"}),
            Limit=limit,
        )
        claimed: list[Notification] = []
        for raw in result.get("Items", []):
            key = load(raw)
            try:
                taken = self._call(
                    "update_item",
                    TableName=self._table,
                    Key=dump({"pk": key["pk"], "sk": key["sk"]}),
                    UpdateExpression="REMOVE gsi2pk, gsi2sk",
                    ConditionExpression="attribute_exists(gsi2pk)",
                    ReturnValues="ALL_NEW",
                )
            except StaleWriteError:
                continue  # another batch took it
            claimed.append(notification_from_item(load(taken["Attributes"])))
        return claimed

    def unclaim(self, notifications: Sequence[Notification]) -> None:
        """Put notifications back in the outbox (their publication failed): the next drain retries."""
        for note in notifications:
            item = notification_item(note)
            self._call(
                "update_item",
                TableName=self._table,
                Key=dump({"pk": item["pk"], "sk": item["sk"]}),
                UpdateExpression="SET gsi2pk = :p, gsi2sk = :s",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=dump({":p": item["gsi2pk"], ":s": item["gsi2sk"]}),
            )

    def _put_file_if_unchanged(self, after: Item, before: Item) -> dict[str, Any]:
        """Put the file's new state, on condition nobody changed it since it was read."""
        return {
            "Put": {
                "Item": dump(after),
                "ConditionExpression": (
                    "servedVersion = :served AND (attribute_not_exists(#chg) OR #chg = :chg)"
                    " AND attribute_not_exists(purgingAt)"  # a purge, once begun, is never undone
                ),
                "ExpressionAttributeNames": {"#chg": "changeSeq"},
                "ExpressionAttributeValues": dump(
                    {":served": int(before.get("servedVersion", 0)), ":chg": int(before.get("changeSeq", 0))}
                ),
            }
        }

    def _change(self, after: Item, op: str) -> list[dict[str, Any]]:
        """Actions that move a file to the end of its space's change feed (its state as of `after`).

        One position per file: its latest change. The space's head counter is advanced on condition,
        so changes commit in sequence order and a consistent read never skips one."""
        feed = f"CHG#{after['school']}#{after['space']}"
        head = self._get(f"HEAD#{after['school']}#{after['space']}", "HEAD")
        current = 0 if head is None else int(head["seq"])
        seq = current + 1
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "Key": dump({"pk": f"HEAD#{after['school']}#{after['space']}", "sk": "HEAD"}),
                    "UpdateExpression": "SET seq = :next",
                    "ConditionExpression": "attribute_not_exists(seq) OR seq = :current",
                    "ExpressionAttributeValues": dump({":next": seq, ":current": current}),
                }
            }
        ]
        previous = int(after.get("changeSeq", 0))
        if previous:
            actions.append({"Delete": {"Key": dump({"pk": feed, "sk": f"{previous:012d}"})}})
        after["changeSeq"] = seq
        snapshot = {k: v for k, v in after.items() if k not in ("pk", "sk", "gsi1pk", "gsi1sk")}
        position = {"pk": feed, "sk": f"{seq:012d}", "op": op, "file": snapshot, "fileId": after["fileId"]}
        actions.append({"Put": {"Item": dump(position)}})
        return actions

    # -- rescans ------------------------------------------------------------------------------
    def quarantine_object(
        self, object_key: str, quarantine_key: str, signature: str, now: datetime, notes: Sequence[Notification]
    ) -> FileRecord | None:
        """A served object found infected by a rescan, in one transaction: the version that held it now
        points to quarantine; if it was the current one, the file becomes `infected` (a `delete` in its
        space's feed, out of dedup) and the notifications are written. The file as it was, or None."""
        file_id = object_key.split("/")[1]
        file = self._get(f"FILE#{file_id}", "FILE")
        if file is None:
            return None
        before = file_from_item(file)
        actions: list[dict[str, Any]] = []
        for version in self.file_versions(file_id):
            if version.object_key == object_key:
                actions.append(
                    {
                        "Update": {
                            "Key": dump({"pk": f"FILE#{file_id}", "sk": f"VERSION#{version.version:08d}"}),
                            "UpdateExpression": "SET objectKey = :q, infected = :sig",
                            "ExpressionAttributeValues": dump({":q": quarantine_key, ":sig": signature}),
                        }
                    }
                )
        if file.get("objectKey") == object_key and file.get("status") == FileStatus.AVAILABLE.value:
            after = dict(file)
            after.update(
                status=FileStatus.INFECTED.value, reason=signature, objectKey=quarantine_key, updatedAt=iso(now)
            )
            if file.get("sha256"):
                sha = f"SHA#{file['school']}#{file['space']}#{file['sha256']}"
                actions.append({"Delete": {"Key": dump({"pk": sha, "sk": f"FILE#{file_id}"})}})
            if int(file.get("changeSeq", 0)) and "trashedAt" not in file:
                actions += self._change(after, "delete")
            actions += [{"Put": {"Item": dump(notification_item(n))}} for n in notes]
            actions.append(self._put_file_if_unchanged(after, file))
        if actions:
            self._transact(actions)
        return before

    # -- jobs -----------------------------------------------------------------------------------
    def put_job(self, job: Job) -> None:
        self._call("put_item", TableName=self._table, Item=dump(_job_item(job)))

    def get_job(self, job_id: str) -> Job | None:
        item = self._get(f"JOB#{job_id}", "JOB")
        if item is None:
            return None
        return Job(
            id=item["jobId"],
            school=item["school"],
            requester=item["requester"],
            role=item["role"],
            kind=item["kind"],
            subject=item["subject"],
            status=item["status"],
            created_at=parse_iso(item["createdAt"]),
            finished_at=parse_iso(item["finishedAt"]) if "finishedAt" in item else None,
            target=item.get("target"),
            name=item.get("name"),
            reason=item.get("reason"),
            summary=item.get("summary"),
        )

    def finish_job(self, job: Job) -> None:
        """A job's end, once: a repeated message never rewrites it."""
        self._call(
            "put_item",
            TableName=self._table,
            Item=dump(_job_item(job)),
            ConditionExpression="#st = :pending",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=dump({":pending": "pending"}),
        )

    def get_file_anywhere(self, file_id: str) -> FileRecord | None:
        """A file whatever its school (for the platform's own work: rescans)."""
        item = self._get(f"FILE#{file_id}", "FILE")
        return None if item is None else file_from_item(item)

    def rescan_progress(self) -> dict[str, Any] | None:
        return self._get("RESCAN", "RESCAN")

    def save_rescan_progress(self, progress: Mapping[str, Any]) -> None:
        self._call("put_item", TableName=self._table, Item=dump({"pk": "RESCAN", "sk": "RESCAN", **progress}))

    # -- trash and the change feed ------------------------------------------------------------
    def trash_file(self, file_id: str, now: datetime, audit: AuditEntry) -> None:
        """Out of listings and name claims, a `delete` in the feed; restorable until purged."""
        file = self._get(f"FILE#{file_id}", "FILE")
        if file is None or "trashedAt" in file:
            raise StaleWriteError("The file was just removed.")
        after = {k: v for k, v in file.items() if k not in ("gsi1pk", "gsi1sk")}
        due_day, due_at = due_key("trash", now + TRASH_LIFE)
        after.update(
            trashedAt=iso(now),
            gsi1pk=f"TRASH#{file['school']}#{file['space']}",
            gsi1sk=f"{iso(now)}#{file_id}",
            gsi2pk=due_day,
            gsi2sk=f"{due_at}#{file_id}",
        )
        actions: list[dict[str, Any]] = [
            {"Delete": {"Key": dump({"pk": self._name_key(file), "sk": "NAME"})}},
            {"Put": {"Item": dump(audit_item(audit))}},
        ]
        if int(file.get("changeSeq", 0)):
            actions += self._change(after, "delete")
        actions.append(self._put_file_if_unchanged(after, file))
        self._transact(actions)

    def restore_file(self, file_id: str, audit: AuditEntry) -> None:
        """Back in its folder under its name (if still free) and back in the feed."""
        file = self._get(f"FILE#{file_id}", "FILE")
        if file is None or "trashedAt" not in file or "purgingAt" in file:
            raise StaleWriteError("The file is not in the trash.")
        record = file_from_item(file)
        after = {k: v for k, v in file.items() if k not in ("trashedAt", "gsi2pk", "gsi2sk")}
        after.update(gsi1pk=dir_key(record.school, record.space, record.path), gsi1sk=f"F#{_entry(record)}")
        claim = {"pk": self._name_key(file), "sk": "NAME", "fileId": file_id}
        actions: list[dict[str, Any]] = [
            {"Put": {"Item": dump(claim), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": dump(audit_item(audit))}},
        ]
        if int(file.get("changeSeq", 0)):
            actions += self._change(after, "upsert")
        actions.append(self._put_file_if_unchanged(after, file))
        try:
            self._transact(actions)
        except StaleWriteError as exc:
            raise AlreadyExistsError("Another file now has this name in this folder.") from exc

    def _name_key(self, file: Item) -> str:
        record = file_from_item(file)
        return f"NAME#{record.school}#{record.space}#{record.path}{_entry(record)}"

    def get_trashed_file(self, school: str, file_id: str) -> FileRecord | None:
        item = self._get(f"FILE#{file_id}", "FILE")
        if item is None or item.get("school") != school or "trashedAt" not in item:
            return None
        return file_from_item(item)

    def list_trash(
        self, school: str, space: SpaceRef, limit: int, cursor: str | None
    ) -> tuple[list[FileRecord], str | None]:
        """The space's trash, most recently deleted first: one query."""
        partition = f"TRASH#{school}#{space}"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DIR_INDEX,
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": dump({":p": partition}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, {"gsi1pk": partition})
        result = self._call("query", **kwargs)
        items = [load(raw) for raw in result.get("Items", [])]
        last = result.get("LastEvaluatedKey")
        return [file_from_item(i) for i in items], (encode_cursor(last) if last else None)

    def _due(self, kind: str, day: str, now: datetime, limit: int) -> list[str]:
        """The keys (pk) of work of a kind due by `now`, in the day partition `day` (YYYY-MM-DD), oldest
        first, at most `limit` (a run's budget: the rest waits for the next run), page after page."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "gsi2pk = :p AND gsi2sk <= :now",
            "ExpressionAttributeValues": dump({":p": f"DUE#{kind}#{day}", ":now": f"{iso(now)}#~"}),
        }
        keys: list[str] = []
        while len(keys) < limit:
            result = self._call("query", Limit=limit - len(keys), **kwargs)
            keys += [str(load(raw)["pk"]) for raw in result.get("Items", [])]
            if "LastEvaluatedKey" not in result:
                break
            kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]
        return keys

    def put_retention_due(self, school: str, year: str, when: datetime) -> None:
        """The day a closed year's pupils' work falls past the school's retention."""
        day, stamp = due_key("retain", when)
        item = {
            "pk": f"RETAIN#{school}#{year}",
            "sk": "RETAIN",
            "school": school,
            "gsi2pk": day,
            "gsi2sk": f"{stamp}#{school}",
        }
        self._call("put_item", TableName=self._table, Item=dump(item))

    def retention_due(self, day: str, now: datetime, limit: int) -> list[str]:
        """Schools with a closed year whose retention fell due by `now` in that day partition."""
        return sorted({pk.removeprefix("RETAIN#").split("#")[0] for pk in self._due("retain", day, now, limit)})

    def trash_due(self, day: str, now: datetime, limit: int) -> list[str]:
        """Ids of trashed files whose purge fell due by `now`."""
        return [pk.removeprefix("FILE#") for pk in self._due("trash", day, now, limit)]

    def begin_purge(self, file_id: str, now: datetime, size: int) -> FileRecord | None:
        """Mark a trashed file as being purged (a restore refuses it from then on) and note the bytes
        its purge gives back to its space's quota; None if it is not in the trash any more."""
        try:
            result = self._call(
                "update_item",
                TableName=self._table,
                Key=dump({"pk": f"FILE#{file_id}", "sk": "FILE"}),
                UpdateExpression="SET purgingAt = if_not_exists(purgingAt, :now),"
                " purgeBytes = if_not_exists(purgeBytes, :size)",
                ConditionExpression="attribute_exists(trashedAt)",
                ExpressionAttributeValues=dump({":now": iso(now), ":size": size}),
                ReturnValues="ALL_NEW",
            )
        except StaleWriteError:
            return None
        return file_from_item(load(result["Attributes"]))

    def grants_due(self, day: str, now: datetime, limit: int) -> list[str]:
        """Ids of uploads still without a verdict whose grant expired (with its grace) by `now`."""
        return [pk.removeprefix("UPLOAD#") for pk in self._due("grant", day, now, limit)]

    def purge_records(self, file_id: str) -> None:
        """The records of a trashed file, once its objects are gone: file, versions, shares, digests.
        The feed keeps its `delete` position; safe to run again after a crash."""
        file = self._get(f"FILE#{file_id}", "FILE")
        if file is not None and "trashedAt" not in file:
            raise StaleWriteError("The file was restored; it is not purged.")
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": dump({":p": f"FILE#{file_id}"}),
            "ConsistentRead": True,
        }
        items: list[Item] = []
        while True:  # every version and share of the file, however many pages they take
            result = self._call("query", **kwargs)
            items += [load(raw) for raw in result.get("Items", [])]
            if "LastEvaluatedKey" not in result:
                break
            kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in items if i["sk"] != "FILE"]
        # each share is also found by its id
        keys += [{"pk": str(i["sk"]), "sk": "SHARE"} for i in items if str(i["sk"]).startswith("SHARE#")]
        if file is not None:
            digests = {str(i["sha256"]) for i in items if str(i["sk"]).startswith("VERSION#") and i.get("sha256")}
            keys += [{"pk": f"SHA#{file['school']}#{file['space']}#{d}", "sk": f"FILE#{file_id}"} for d in digests]
        self._batch_write([{"DeleteRequest": {"Key": dump(k)}} for k in keys])
        if file is not None:
            # Last, and in one transaction: the file goes and its bytes leave its quota's use.
            actions: list[dict[str, Any]] = [
                {
                    "Delete": {
                        "Key": dump({"pk": f"FILE#{file_id}", "sk": "FILE"}),
                        "ConditionExpression": "attribute_exists(purgingAt)",
                    }
                }
            ]
            quota = quota_key(str(file["school"]), SpaceRef.from_stored(str(file["space"])))
            if quota is not None and int(file.get("purgeBytes", 0)):
                actions.append(release_action(quota, int(file["purgeBytes"])))
            self._transact(actions)

    def quota_used(self, quota_key: str) -> int:
        """Bytes reserved or kept against a quota."""
        item = self._get(f"QUOTA#{quota_key}", "QUOTA")
        return 0 if item is None else int(item.get("used", 0))

    def clean_copies(self, school: str, space: SpaceRef, sha256: str, limit: int) -> list[CleanCopy]:
        """Versions of files of the space that hold clean bytes with this digest."""
        result = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues=dump({":p": f"SHA#{school}#{space}#{sha256.lower()}"}),
            Limit=limit,
        )
        return [
            CleanCopy(
                file_id=str(i["fileId"]),
                object_key=str(i["objectKey"]),
                size=int(i["size"]),
                content_type=str(i["contentType"]),
                owner=str(i["owner"]),
                subject=i.get("subject") or None,
            )
            for i in (load(raw) for raw in result.get("Items", []))
        ]

    def changes(self, school: str, space: SpaceRef, after: int, limit: int) -> list[Change]:
        """Files whose latest change is after sequence `after`, in order: one consistent query."""
        result = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :p AND sk > :s",
            ExpressionAttributeValues=dump({":p": f"CHG#{school}#{space}", ":s": f"{after:012d}"}),
            ConsistentRead=True,
            Limit=limit,
        )
        return [
            Change(seq=int(item["sk"]), op=str(item["op"]), file=file_from_item(item["file"]))
            for item in (load(raw) for raw in result.get("Items", []))
        ]

    def list_folder(
        self, school: str, space: SpaceRef, path: str, limit: int, cursor: str | None, owner: str | None = None
    ) -> Page:
        """One query: subfolders then files of one folder, in name order (only `owner`'s, when given)."""
        partition = dir_key(school, space, path)
        condition, values = "gsi1pk = :p", {":p": partition}
        if owner is not None:
            condition, values = condition + " AND begins_with(gsi1sk, :o)", {**values, ":o": f"F#{owner}/"}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DIR_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": dump(values),
            "Limit": limit + 1,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, {"gsi1pk": partition})
        raw_items = self._call("query", **kwargs).get("Items", [])
        items = [load(raw) for raw in raw_items]
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            next_cursor = encode_cursor(dump({k: last[k] for k in ("pk", "sk", "gsi1pk", "gsi1sk")}))
        folders = [str(i["name"]) for i in items if str(i["gsi1sk"]).startswith("D#")]
        files = [file_from_item(i) for i in items if str(i["gsi1sk"]).startswith("F#")]
        return Page(folders=folders, files=files, next_cursor=next_cursor)

    @staticmethod
    def _file_item(file: FileRecord) -> Item:
        return {
            "pk": f"FILE#{file.id}",
            "sk": "FILE",
            "gsi1pk": dir_key(file.school, file.space, file.path),
            "gsi1sk": f"F#{_entry(file)}",
            "subject": file.subject,
            "fileId": file.id,
            "school": file.school,
            "space": str(file.space),
            "path": file.path,
            "name": file.name,
            "size": file.size,
            "contentType": file.content_type,
            "sha256": file.sha256,
            "status": file.status.value,
            "reason": file.reason,
            "version": file.version,
            "servedVersion": 0,
            "changeSeq": 0,
            "owner": file.owner,
            "createdAt": iso(file.created_at),
            "updatedAt": iso(file.updated_at),
        }

    @staticmethod
    def _upload_item(upload: UploadRecord) -> Item:
        return {
            "pk": f"UPLOAD#{upload.id}",
            "sk": "UPLOAD",
            "uploadId": upload.id,
            "fileId": upload.file_id,
            "school": upload.school,
            "space": str(upload.space),
            "path": upload.path,
            "name": upload.name,
            "size": upload.size,
            "contentType": upload.content_type,
            "sha256": upload.sha256,
            "owner": upload.owner,
            "status": upload.status.value,
            "createdAt": iso(upload.created_at),
            "expiresAt": iso(upload.expires_at),
            "key": upload.key,
            "allowedTypes": list(upload.allowed_types) if upload.allowed_types is not None else None,
            "baseVersion": upload.base_version,
            "quotaKey": upload.quota_key,
            "multipartId": upload.multipart_id,
            "grantOrder": upload.order,
            "partSize": upload.part_size,
            "gsi2pk": due_key("grant", upload.expires_at + GRANT_GRACE)[0],
            "gsi2sk": f"{due_key('grant', upload.expires_at + GRANT_GRACE)[1]}#{upload.id}",
        }

    # -- classes ----------------------------------------------------------------------------
    def membership(self, school: str, user_id: str) -> Membership:
        """The caller's classes, read consistently so a removal counts on the next request."""
        teaching: set[str] = set()
        studying: set[str] = set()
        archived: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": dump({":p": f"MEMBER#{school}#{user_id}"}),
            "ConsistentRead": True,
        }
        while True:
            result = self._call("query", **kwargs)
            for raw in result.get("Items", []):
                item = load(raw)
                (teaching if item["role"] == "teacher" else studying).add(str(item["classId"]))
                if item.get("archived"):
                    archived.add(str(item["classId"]))
            if "LastEvaluatedKey" not in result:
                return Membership(frozenset(teaching), frozenset(studying), frozenset(archived))
            kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]

    def archive_class(self, record: ClassRecord, year: str, now: datetime, assignments: Sequence[Assignment]) -> None:
        """Close a class's school year: its members' items, then its assignments, then the class item
        last, so a crash midway is finished by closing again (a class item archived means done)."""
        members = [(u, "teacher") for u in record.teachers] + [(u, "student") for u in record.students]
        self._batch_write(
            [
                {
                    "PutRequest": {
                        "Item": dump(
                            {
                                "pk": f"MEMBER#{record.school}#{user}",
                                "sk": f"CLASS#{record.id}",
                                "classId": record.id,
                                "role": role,
                                "archived": True,
                            }
                        )
                    }
                }
                for user, role in members
            ]
        )
        for assignment in assignments:
            self._call(
                "update_item",
                TableName=self._table,
                Key=dump({"pk": f"SCHOOL#{record.school}", "sk": f"ASSIGNMENT#{assignment.id}"}),
                UpdateExpression="SET archivedAt = :now",
                ExpressionAttributeValues=dump({":now": iso(now)}),
            )
        self._call(
            "update_item",
            TableName=self._table,
            Key=dump({"pk": f"SCHOOL#{record.school}", "sk": f"CLASS#{record.id}"}),
            UpdateExpression="SET archivedAt = :now, #yr = :year",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(archivedAt)",
            ExpressionAttributeNames={"#yr": "year"},
            ExpressionAttributeValues=dump({":now": iso(now), ":year": year}),
        )

    def get_class(self, school: str, class_id: str) -> ClassRecord | None:
        item = self._get(f"SCHOOL#{school}", f"CLASS#{class_id}")
        return None if item is None else class_from_item(item)

    def put_class(self, record: ClassRecord) -> None:
        """Create or replace a class; membership items follow the new lists exactly."""
        self.put_roster(record.school, [record])

    def put_roster(self, school: str, classes: Sequence[ClassRecord]) -> int:
        """Create or replace classes in batches; only what changed is written. Answers the writes made."""
        old = {c.id: c for c in self.get_classes(school, [c.id for c in classes])}
        requests: list[dict[str, Any]] = []
        class_items: list[dict[str, Any]] = []
        for record in classes:
            before = old.get(record.id)
            requests.extend(_membership_changes(record, before))
            if before != record:
                item = {
                    "pk": f"SCHOOL#{school}",
                    "sk": f"CLASS#{record.id}",
                    "classId": record.id,
                    "school": school,
                    "name": record.name,
                    "teachers": list(record.teachers),
                    "students": list(record.students),
                }
                class_items.append({"PutRequest": {"Item": dump(item)}})
        # Memberships first: they decide access; the class items only describe it.
        self._batch_write(requests)
        self._batch_write(class_items)
        return len(requests) + len(class_items)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self._table: requests[start : start + 25]}
            for attempt in range(8):
                result = self._call("batch_write_item", RequestItems=pending)
                pending = result.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not a secret
            if pending:
                raise ServiceUnavailableError("The catalog is busy; try again shortly.")

    def list_classes(self, school: str, limit: int, cursor: str | None) -> ClassPage:
        partition = f"SCHOOL#{school}"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :c)",
            "ExpressionAttributeValues": dump({":p": partition, ":c": "CLASS#"}),
            "Limit": limit + 1,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, {"pk": partition})
        items = [load(raw) for raw in self._call("query", **kwargs).get("Items", [])]
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            next_cursor = encode_cursor(dump({"pk": items[-1]["pk"], "sk": items[-1]["sk"]}))
        return ClassPage(classes=[class_from_item(i) for i in items], next_cursor=next_cursor)

    def get_classes(self, school: str, class_ids: Iterable[str]) -> list[ClassRecord]:
        keys = [dump({"pk": f"SCHOOL#{school}", "sk": f"CLASS#{c}"}) for c in sorted(set(class_ids))]
        return sorted((class_from_item(item) for item in self._batch_get(keys)), key=lambda c: c.id)

    # -- assignments and versions ---------------------------------------------------------------
    def put_assignment(self, assignment: Assignment) -> None:
        item = {
            "pk": f"SCHOOL#{assignment.school}",
            "sk": f"ASSIGNMENT#{assignment.id}",
            "gsi1pk": f"ASSIGNMENTS#{assignment.school}#{assignment.class_id}",
            "gsi1sk": f"{iso(assignment.due_at)}#{assignment.id}",
            "assignmentId": assignment.id,
            "school": assignment.school,
            "classId": assignment.class_id,
            "title": assignment.title,
            "dueAt": iso(assignment.due_at),
            "closesAt": iso(assignment.closes_at) if assignment.closes_at else None,
            "maxSize": assignment.max_size,
            "allowedTypes": list(assignment.allowed_types) if assignment.allowed_types is not None else None,
            "createdBy": assignment.created_by,
            "createdAt": iso(assignment.created_at),
        }
        self._call("put_item", TableName=self._table, Item=dump(item), ConditionExpression="attribute_not_exists(pk)")

    def get_assignment(self, school: str, assignment_id: str) -> Assignment | None:
        item = self._get(f"SCHOOL#{school}", f"ASSIGNMENT#{assignment_id}")
        return None if item is None else assignment_from_item(item)

    def list_assignments(self, school: str, class_id: str) -> list[Assignment]:
        """A class's assignments by due date (a class has tens of them, not thousands)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DIR_INDEX,
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": dump({":p": f"ASSIGNMENTS#{school}#{class_id}"}),
        }
        found: list[Assignment] = []
        while True:
            result = self._call("query", **kwargs)
            found.extend(assignment_from_item(load(raw)) for raw in result.get("Items", []))
            if "LastEvaluatedKey" not in result:
                return found
            kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]

    def file_versions(self, file_id: str) -> list[FileVersion]:
        """Every available version of a file, newest first."""
        result = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :v)",
            ExpressionAttributeValues=dump({":p": f"FILE#{file_id}", ":v": "VERSION#"}),
            ScanIndexForward=False,
            ConsistentRead=True,
        )
        return [version_from_item(load(raw)) for raw in result.get("Items", [])]

    # -- shares -------------------------------------------------------------------------------
    def file_shares(self, file_id: str) -> list[Share]:
        """Every share of a file, read consistently so a revocation counts on the next request."""
        result = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues=dump({":p": f"FILE#{file_id}", ":s": "SHARE#"}),
            ConsistentRead=True,
        )
        return [share_from_item(load(raw)) for raw in result.get("Items", [])]

    def create_share(self, share: Share, audit: AuditEntry) -> None:
        """The share under its file, its pointer by id, and the audit entry, together."""
        body: Item = {
            "shareId": share.id,
            "school": share.school,
            "fileId": share.file_id,
            "targetKind": share.target_kind,
            "targetId": share.target_id,
            "role": share.role.value,
            "expiresAt": iso(share.expires_at) if share.expires_at else None,
            "createdBy": share.created_by,
            "createdAt": iso(share.created_at),
        }
        if share.expires_at is not None:
            body["ttl"] = int(share.expires_at.timestamp()) + 86400
        under_file = {
            **body,
            "pk": f"FILE#{share.file_id}",
            "sk": f"SHARE#{share.id}",
            "gsi1pk": f"SHAREDWITH#{share.school}#{share.target_kind}#{share.target_id}",
            "gsi1sk": f"{iso(share.created_at)}#{share.id}",
        }
        pointer = {**body, "pk": f"SHARE#{share.id}", "sk": "SHARE"}
        self._transact(
            [
                {
                    "ConditionCheck": {
                        "Key": dump({"pk": f"FILE#{share.file_id}", "sk": "FILE"}),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {"Put": {"Item": dump(under_file), "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"Item": dump(pointer), "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"Item": dump(audit_item(audit))}},
            ]
        )

    def get_share(self, school: str, share_id: str) -> Share | None:
        item = self._get(f"SHARE#{share_id}", "SHARE")
        if item is None or item.get("school") != school:
            return None
        return share_from_item(item)

    def delete_share(self, share: Share, audit: AuditEntry) -> None:
        self._transact(
            [
                {"Delete": {"Key": dump({"pk": f"FILE#{share.file_id}", "sk": f"SHARE#{share.id}"})}},
                {"Delete": {"Key": dump({"pk": f"SHARE#{share.id}", "sk": "SHARE"})}},
                {"Put": {"Item": dump(audit_item(audit))}},
            ]
        )

    def shares_received(
        self, school: str, targets: Sequence[tuple[str, str]], limit: int, before: str | None = None
    ) -> list[Share]:
        """Shares made to any of the targets (the user, their classes), newest first, at most `limit` of
        each (older than the position `before`): one query per target, merged by the caller."""
        found: list[Share] = []
        for kind, ident in targets:
            condition, values = "gsi1pk = :p", {":p": f"SHAREDWITH#{school}#{kind}#{ident}"}
            if before is not None:
                condition, values = condition + " AND gsi1sk < :before", {**values, ":before": before}
            result = self._call(
                "query",
                TableName=self._table,
                IndexName=DIR_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=dump(values),
                ScanIndexForward=False,
                Limit=limit,
            )
            found.extend(share_from_item(load(raw)) for raw in result.get("Items", []))
        return found

    def get_files(self, school: str, file_ids: Iterable[str]) -> dict[str, FileRecord]:
        """Several files by id, in batches of 100."""
        keys = [dump({"pk": f"FILE#{i}", "sk": "FILE"}) for i in sorted(set(file_ids))]
        files: dict[str, FileRecord] = {}
        for item in self._batch_get(keys):
            if item.get("school") == school and "trashedAt" not in item:
                record = file_from_item(item)
                files[record.id] = record
        return files

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[Item]:
        found: list[Item] = []
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {self._table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            for _ in range(8):
                result = self._call("batch_get_item", RequestItems=pending)
                found.extend(load(raw) for raw in result.get("Responses", {}).get(self._table, []))
                pending = result.get("UnprocessedKeys") or {}
                if not pending:
                    break
            if pending:
                raise ServiceUnavailableError("The catalog is busy; try again shortly.")
        return found

    # -- audit --------------------------------------------------------------------------------
    def record_audit(self, entry: AuditEntry) -> None:
        self._call("put_item", TableName=self._table, Item=dump(audit_item(entry)))

    def list_audit(
        self, school: str, actor: str | None, limit: int, cursor: str | None
    ) -> tuple[list[AuditEntry], str | None]:
        """A school's audit trail, or one of its users', newest first."""
        names: tuple[str, ...]
        if actor is None:
            partition, names = f"AUDIT#{school}", ("pk", "sk")
            kwargs: dict[str, Any] = {"KeyConditionExpression": "pk = :p"}
        else:
            partition, names = f"AUDITUSER#{school}#{actor}", ("pk", "sk", "gsi1pk", "gsi1sk")
            kwargs = {"IndexName": DIR_INDEX, "KeyConditionExpression": "gsi1pk = :p"}
        kwargs.update(
            TableName=self._table,
            ExpressionAttributeValues=dump({":p": partition}),
            ScanIndexForward=False,
            Limit=limit + 1,
        )
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, {names[-2]: partition})
        items = [load(raw) for raw in self._call("query", **kwargs).get("Items", [])]
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            next_cursor = encode_cursor(dump({k: items[-1][k] for k in names}))
        return [audit_from_item(i) for i in items], next_cursor


def table_definition(table: str) -> dict[str, Any]:
    """The table and its index, as CreateTable takes them (used by the local stack and tests)."""
    return {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": DIR_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                # Work that falls due on a day (a trashed file's purge): sparse, read by the sweeper.
                "IndexName": DUE_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    }
