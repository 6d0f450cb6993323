"""Verdicts and quarantine: the repository reads the file, `settle` decides (in the domain), and the
settlement is written in one transaction on condition nothing changed; a rescan's quarantine likewise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb.classes import ClassRepository
from chalicelib.adapters.dynamodb.feeds import notification_item
from chalicelib.adapters.dynamodb.files import FileRepository
from chalicelib.adapters.dynamodb.records import (
    blob_item,
    file_from_item,
    leave_count_actions,
    put_file_if_unchanged,
    release_action,
)
from chalicelib.adapters.dynamodb.table import (
    RACE_ATTEMPTS,
    Item,
    Repository,
    Table,
    dump,
    pause_after_race,
    retried_on_races,
)
from chalicelib.domain.content import Verdict
from chalicelib.domain.models import FileRecord, FileStatus, SpaceKind, UploadRecord, iso
from chalicelib.domain.notifications import Notification
from chalicelib.domain.quotas import upload_counters
from chalicelib.domain.settlement import FileChange, Served, settle
from chalicelib.errors import ContentionError, StaleWriteError


class VerdictRepository(Repository):
    """An upload's verdict (UPLOAD#…), the version it serves, and a rescan's quarantine of a served object."""

    def __init__(self, table: Table, files: FileRepository, classes: ClassRepository) -> None:
        super().__init__(table)
        self._files = files
        self._classes = classes

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
        for attempt in range(RACE_ATTEMPTS):
            try:
                return self._record_verdict_once(upload, verdict, sha256, object_key, now, arrived)
            except (StaleWriteError, ContentionError):
                current = self._files.get_upload(upload.id)
                if current is None or current.status is not FileStatus.PENDING or attempt == RACE_ATTEMPTS - 1:
                    raise
                pause_after_race(attempt)
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
            assignment = self._classes.get_assignment(record.school, record.space.id)
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
        actions += leave_count_actions(upload_counters(upload))
        if settlement.change is not FileChange.KEEP:
            actions.append(put_file_if_unchanged(after, file))
        self._files.commit(actions)  # KEEP: a refused new version, the served one stays as it was
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
        return actions + self._files.change(after, "upsert")

    def quarantine_object(
        self, object_key: str, quarantine_key: str, signature: str, now: datetime, notes: Sequence[Notification]
    ) -> FileRecord | None:
        """A served object found infected by a rescan, in one transaction: the version that held it now
        points to quarantine; if it was the current one, the file becomes `infected` (a `delete` in its
        space's feed, out of dedup) and the notifications are written. The file as it was, or None.
        A race with another writer of the space's feed is tried again."""
        return retried_on_races(lambda: self._quarantine_once(object_key, quarantine_key, signature, now, notes))

    def _quarantine_once(
        self, object_key: str, quarantine_key: str, signature: str, now: datetime, notes: Sequence[Notification]
    ) -> FileRecord | None:
        file_id = object_key.split("/")[1]
        file = self._get(f"FILE#{file_id}", "FILE")
        if file is None:
            return None
        before = file_from_item(file)
        actions: list[dict[str, Any]] = []
        for version in self._files.file_versions(file_id):
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
                actions += self._files.change(after, "delete")
            actions += [{"Put": {"Item": dump(notification_item(n))}} for n in notes]
            actions.append(put_file_if_unchanged(after, file))
        if actions:
            self._files.commit(actions)
        return before
