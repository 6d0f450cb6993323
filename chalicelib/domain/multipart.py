"""An upload after its grant: its state and the parts that arrived, the signed URLs of the missing ones,
its completion once every part arrived, its cancelling."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.audit import entry
from chalicelib.domain.grants import GONE_REASONS, check_parts, parse_parts, upload_json
from chalicelib.domain.models import FileStatus, Principal, UploadRecord, is_valid_id, iso, utcnow
from chalicelib.domain.ports import ObjectStore, UploadedPart, VerdictWriter
from chalicelib.errors import BadRequestError, ConflictError, NotFoundError, StaleWriteError

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.domain.models import AuditEntry

log = logging.getLogger("cartable.files")


def multipart_answer(
    store: ObjectStore, upload: UploadRecord, arrived: list[UploadedPart] | None, ttl: int
) -> dict[str, Any]:
    """Part URLs for the parts still missing (every part at first), each signed for its exact length."""
    assert upload.multipart_id is not None and upload.part_size is not None
    done = {part.number for part in arrived or []}
    lifetime = max(1, min(ttl, int((upload.expires_at - utcnow()).total_seconds())))
    parts = [
        {
            "partNumber": number,
            "url": store.presign_part(upload.key, upload.multipart_id, number, upload.part_length(number), lifetime),
        }
        for number in range(1, upload.part_count + 1)
        if number not in done
    ]
    return {
        "method": "MULTIPART",
        "partSize": upload.part_size,
        "partCount": upload.part_count,
        "parts": parts,
        "urlsExpireAt": iso(utcnow().replace(microsecond=0) + timedelta(seconds=lifetime)),
    }


class PendingUploadStore(VerdictWriter, Protocol):
    """What a multipart upload's life needs: its grant, its completion, a cancel's verdict."""

    def get_upload(self, upload_id: str) -> UploadRecord | None: ...

    def set_completed(self, upload_id: str, now: datetime) -> None: ...

    def record_audit(self, entry: AuditEntry) -> None: ...


class PendingUploads:
    """What the API does with an upload once granted; only its uploader sees it."""

    def __init__(self, catalog: PendingUploadStore, store: ObjectStore, upload_ttl: int) -> None:
        self._catalog = catalog
        self._store = store
        self._upload_ttl = upload_ttl

    def _own_upload(self, principal: Principal, upload_id: str) -> UploadRecord:
        upload = self._catalog.get_upload(upload_id) if is_valid_id(upload_id) else None
        if upload is None or upload.school != principal.school or upload.owner != principal.user_id:
            raise NotFoundError()
        return upload

    def get_upload(self, principal: Principal, upload_id: str) -> dict[str, Any]:
        """The state of one upload, for its uploader only; a multipart upload still open also says which
        parts arrived and signs fresh URLs for the missing ones, so a tablet resumes where it stopped."""
        upload = self._own_upload(principal, upload_id)
        answer = upload_json(upload)
        if upload.multipart_id is not None:
            answer["multipart"] = self._multipart_state(upload)
        return answer

    def _multipart_state(self, upload: UploadRecord) -> dict[str, Any]:
        assert upload.multipart_id is not None
        state: dict[str, Any] = {"partSize": upload.part_size, "partCount": upload.part_count}
        arrived = self._store.uploaded_parts(upload.key, upload.multipart_id)
        if upload.status is not FileStatus.PENDING or arrived is None or utcnow() >= upload.expires_at:
            return {**state, "open": False, "received": [], "parts": []}  # completed, aborted or expired
        answer = multipart_answer(self._store, upload, arrived, self._upload_ttl)
        received = [{"partNumber": p.number, "size": p.size, "etag": p.etag} for p in arrived]
        return {
            **state,
            "open": True,
            "received": received,
            "parts": answer["parts"],
            "urlsExpireAt": answer["urlsExpireAt"],
        }

    def complete_upload(self, principal: Principal, upload_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Assemble a multipart upload once every part arrived with its exact length; the scan follows.
        A repeated call after success answers the upload again."""
        upload = self._own_upload(principal, upload_id)
        if upload.multipart_id is None:
            raise BadRequestError("This upload is a single POST; there is nothing to complete.")
        parts = parse_parts(body, upload.part_count)
        if upload.status is not FileStatus.PENDING:
            if upload.reason in GONE_REASONS:
                raise ConflictError(f"This upload ended ({upload.reason}); ask for a new one.")
            return upload_json(upload)
        arrived = self._store.uploaded_parts(upload.key, upload.multipart_id)
        if arrived is None:
            # Closed while pending: completed already, the scan on its way (an abort ends the grant too).
            return upload_json(upload)
        if utcnow() >= upload.expires_at:
            raise ConflictError("This upload's grant expired; ask for a new one.")
        check_parts(upload, parts, arrived)
        try:
            # The arrival of the bytes (for the late flag and receipts) by our clock, before assembling:
            # a scan, however long, never makes a submission completed in time late.
            self._catalog.set_completed(upload.id, utcnow())
        except StaleWriteError:
            return upload_json(self._own_upload(principal, upload_id))  # judged meanwhile
        try:
            self._store.complete_multipart(upload.key, upload.multipart_id, parts)
        except FileNotFoundError:
            log.info("multipart closed meanwhile upload=%s", upload.id)  # a concurrent completion or abort
            return upload_json(self._own_upload(principal, upload_id))
        self._catalog.record_audit(
            entry(principal, "upload.complete", f"file:{upload.file_id}", reason=f"upload {upload.id}")
        )
        log.info("multipart completed user=%s upload=%s parts=%d", principal.user_id, upload.id, len(parts))
        return upload_json(upload)

    def cancel_upload(self, principal: Principal, upload_id: str) -> None:
        """Give up an upload: its parts go, its quota is released, bytes arriving later are dropped."""
        upload = self._own_upload(principal, upload_id)
        if upload.status is not FileStatus.PENDING:
            raise ConflictError(f"This upload already ended ({upload.status.value}).")
        if upload.multipart_id is not None:
            self._store.abort_multipart(upload.key, upload.multipart_id)
        try:
            from chalicelib.domain.content import Verdict

            self._catalog.record_verdict(upload, Verdict(FileStatus.REJECTED, "cancelled"), "", "", utcnow())
        except StaleWriteError:
            current = self._catalog.get_upload(upload.id)
            if current is None or current.status is FileStatus.PENDING:
                raise
            raise ConflictError(f"This upload already ended ({current.status.value}).") from None
        self._catalog.record_audit(entry(principal, "upload.cancel", f"file:{upload.file_id}", reason=upload.id))
