"""Object storage over S3 or any S3-compatible store, with an injected boto3 client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from botocore.exceptions import ClientError

from chalicelib.adapters.readahead import read_ahead
from chalicelib.domain.ports import PresignedPost, StoredObject, UploadedPart
from chalicelib.errors import BadRequestError, ServiceUnavailableError, StaleWriteError

MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
THROTTLING = {"SlowDown", "503", "ServiceUnavailable", "RequestTimeout", "InternalError", "500"}
# What S3 says of a completion the client got wrong: its parts, their order, or a part too small.
BAD_PARTS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"}
COPY_LIMIT = 5 * 1024**3  # copy_object copies at most 5 GB; beyond, parts are copied (UploadPartCopy)
COPY_PART = 512 * 1024**2
# Chunks read ahead of the consumer (the scan reads 1 MiB chunks: 4 MiB at most in memory, whatever the
# object's size). Two left the scan waiting for storage between its sends on a busy machine (figure 4,
# 50 MB: 0.59-0.80 of clamd's local scan with 2, 0.76-0.96 with 8, in the same run); on a quiet one 2, 4
# and 8 measure alike (0.82-0.85), and each chunk more is a MiB more of the scanner's peak (figure 7).
READ_AHEAD = 4


def content_disposition(filename: str) -> str:
    """RFC 6266 `attachment` with an ASCII fallback and the exact UTF-8 name (RFC 5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def behind_front(url: str, origin: str | None) -> str:
    """`url` with the download front's scheme and host (`origin`), its path and signed query untouched: the
    front forwards to the host the URL was signed for (settings refuse an addressing style where it cannot)."""
    if not origin:
        return url
    front = urlsplit(origin)
    signed = urlsplit(url)
    return urlunsplit((front.scheme, front.netloc, signed.path, signed.query, signed.fragment))


def _code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def translate(exc: ClientError) -> Exception:
    code = _code(exc)
    if code in THROTTLING:
        return ServiceUnavailableError("Storage is busy; try again shortly.")
    if code in {"PreconditionFailed", "412"}:
        return StaleWriteError("The object changed while it was read.")
    return exc


class S3ObjectStore:
    """The ObjectStore port; keys are built by the services, never from client input."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        copy_limit: int = COPY_LIMIT,
        copy_part: int = COPY_PART,
        download_origin: str | None = None,
    ) -> None:
        self._s3 = client
        self._bucket = bucket
        self._download_origin = download_origin  # the front adding nosniff (settings.download_origin)
        self._copy_limit = copy_limit
        self._copy_part = copy_part

    def presign_post(self, key: str, size: int, content_type: str, expires_in: int) -> PresignedPost:
        """A POST policy pinning the key, the exact size and the Content-Type."""
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", size, size],
            ],
            ExpiresIn=expires_in,
        )
        return PresignedPost(url=post["url"], fields={k: str(v) for k, v in post["fields"].items()})

    def presign_get(self, key: str, filename: str, content_type: str, expires_in: int) -> str:
        """A GET answering the judged type, as an attachment, never cached; on the download front when there is one."""
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition(filename),
                "ResponseContentType": content_type,
                "ResponseCacheControl": "private, no-store",
            },
            ExpiresIn=expires_in,
        )
        return behind_front(url, self._download_origin)

    def head(self, key: str) -> StoredObject | None:
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in MISSING:
                return None
            raise translate(exc) from exc
        return StoredObject(
            key=key,
            size=int(head["ContentLength"]),
            etag=str(head["ETag"]),
            content_type=head.get("ContentType"),
            last_modified=head["LastModified"],
        )

    def read_chunks(self, key: str, etag: str, chunk_size: int) -> Iterator[bytes]:
        """Stream the object in chunks, refusing a different object than the one inspected.
        The next chunks are read while the caller uses this one: up to READ_AHEAD of them wait, so the
        consumer (the scan, sending to clamd) never waits for storage between two of its sends."""
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key, IfMatch=etag)["Body"]
        except ClientError as exc:
            raise translate(exc) from exc

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

        yield from read_ahead(chunks, depth=READ_AHEAD)

    def copy(
        self, source: str, target: str, etag: str | None, size: int | None = None, content_type: str | None = None
    ) -> None:
        """Copy exactly the object that was scanned: a replaced source fails, it is not copied.
        A missing source raises FileNotFoundError. Objects over the copy limit go part by part.
        With `content_type`, the copy is stored with that type (the judged one) instead of the source's."""
        conditions = {"CopySourceIfMatch": etag} if etag else {}
        metadata = {"MetadataDirective": "COPY"}
        if content_type:
            metadata = {"MetadataDirective": "REPLACE", "ContentType": content_type}
        try:
            if size is not None and size > self._copy_limit:
                self._copy_in_parts(source, target, size, conditions, content_type)
                return
            self._s3.copy_object(
                Bucket=self._bucket,
                Key=target,
                CopySource={"Bucket": self._bucket, "Key": source},
                **metadata,
                **conditions,
            )
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise FileNotFoundError(source) from exc
            raise translate(exc) from exc

    def _copy_in_parts(
        self, source: str, target: str, size: int, conditions: dict[str, str], content_type: str | None = None
    ) -> None:
        """UploadPartCopy of ranges, each on the scanned ETag; the target appears whole or not at all."""
        head = self._s3.head_object(Bucket=self._bucket, Key=source, **_if_match(conditions))
        kind = content_type or head.get("ContentType", "application/octet-stream")
        started = self._s3.create_multipart_upload(Bucket=self._bucket, Key=target, ContentType=kind)
        upload_id = started["UploadId"]
        parts = []
        try:
            for number, start in enumerate(range(0, size, self._copy_part), start=1):
                end = min(start + self._copy_part, size) - 1
                copied = self._s3.upload_part_copy(
                    Bucket=self._bucket,
                    Key=target,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self._bucket, "Key": source},
                    CopySourceRange=f"bytes={start}-{end}",
                    **conditions,
                )
                parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=target, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=target, UploadId=upload_id)
            raise

    # -- multipart uploads ----------------------------------------------------------------------
    def start_multipart(self, key: str, content_type: str) -> str:
        try:
            started = self._s3.create_multipart_upload(Bucket=self._bucket, Key=key, ContentType=content_type)
        except ClientError as exc:
            raise translate(exc) from exc
        return str(started["UploadId"])

    def presign_part(self, key: str, multipart_id: str, number: int, size: int, expires_in: int) -> str:
        """A PUT URL for one part; its signature covers the part's exact length where the store checks it."""
        url: str = self._s3.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "UploadId": multipart_id,
                "PartNumber": number,
                "ContentLength": size,
            },
            ExpiresIn=expires_in,
        )
        return url

    def uploaded_parts(self, key: str, multipart_id: str) -> list[UploadedPart] | None:
        """The parts that arrived, by number; None when the multipart upload is no longer open."""
        parts: list[UploadedPart] = []
        marker = 0
        try:
            while True:
                page = self._s3.list_parts(
                    Bucket=self._bucket, Key=key, UploadId=multipart_id, PartNumberMarker=marker, MaxParts=1000
                )
                parts += [
                    UploadedPart(int(p["PartNumber"]), int(p["Size"]), str(p["ETag"])) for p in page.get("Parts", [])
                ]
                if not page.get("IsTruncated"):
                    return parts
                marker = int(page["NextPartNumberMarker"])
        except ClientError as exc:
            if _code(exc) in MISSING:
                return None
            raise translate(exc) from exc

    def complete_multipart(self, key: str, multipart_id: str, parts: Sequence[tuple[int, str]]) -> None:
        """Assemble the parts; a wrong list is the client's to fix (400), a closed upload is gone."""
        try:
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=multipart_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in parts]},
            )
        except ClientError as exc:
            code = _code(exc)
            if code in MISSING:
                raise FileNotFoundError(key) from exc
            if code in BAD_PARTS:
                raise BadRequestError(f"The store refused the parts ({code}).") from exc
            raise translate(exc) from exc

    def abort_multipart(self, key: str, multipart_id: str) -> None:
        """Drop the parts of an unfinished upload; already gone is fine."""
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=multipart_id)
        except ClientError as exc:
            if _code(exc) not in MISSING:
                raise translate(exc) from exc

    def exists(self, key: str) -> bool:
        """Whether an object is there, by listing (no right to read it is needed)."""
        try:
            listed = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=key, MaxKeys=1)
        except ClientError as exc:
            raise translate(exc) from exc
        return any(item.get("Key") == key for item in listed.get("Contents", []))

    def list_after(self, prefix: str, start_after: str, limit: int) -> list[StoredObject]:
        """Up to `limit` objects under `prefix` whose keys sort after `start_after`, in key order."""
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "MaxKeys": min(limit, 1000)}
        if start_after:
            kwargs["StartAfter"] = start_after
        try:
            listed = self._s3.list_objects_v2(**kwargs)
        except ClientError as exc:
            raise translate(exc) from exc
        return [
            StoredObject(item["Key"], int(item["Size"]), str(item["ETag"]), None, item["LastModified"])
            for item in listed.get("Contents", [])
        ]

    def list_older(self, prefix: str, before: datetime, limit: int) -> list[StoredObject]:
        """Objects under `prefix` last written before `before`, at most `limit` of them."""
        found: list[StoredObject] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if item["LastModified"] < before:
                        found.append(
                            StoredObject(item["Key"], int(item["Size"]), str(item["ETag"]), None, item["LastModified"])
                        )
                        if len(found) >= limit:
                            return found
        except ClientError as exc:
            raise translate(exc) from exc
        return found

    def delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            raise translate(exc) from exc


def _if_match(conditions: dict[str, str]) -> dict[str, str]:
    return {"IfMatch": conditions["CopySourceIfMatch"]} if conditions else {}
