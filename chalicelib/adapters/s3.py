"""Object storage over S3 or any S3-compatible store, with an injected boto3 client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from chalicelib.domain.ports import PresignedPost, StoredObject
from chalicelib.errors import ServiceUnavailableError, StaleWriteError

MISSING = {"404", "NoSuchKey", "NotFound"}
THROTTLING = {"SlowDown", "503", "ServiceUnavailable", "RequestTimeout", "InternalError", "500"}


def content_disposition(filename: str) -> str:
    """RFC 6266 `attachment` with an ASCII fallback and the exact UTF-8 name (RFC 5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


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

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

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
        return url

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
        """Stream the object in chunks, refusing a different object than the one inspected."""
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key, IfMatch=etag)["Body"]
        except ClientError as exc:
            raise translate(exc) from exc
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def copy(self, source: str, target: str, etag: str | None) -> None:
        """Copy exactly the object that was scanned: a replaced source fails, it is not copied.
        A missing source raises FileNotFoundError."""
        conditions = {"CopySourceIfMatch": etag} if etag else {}
        try:
            self._s3.copy_object(
                Bucket=self._bucket,
                Key=target,
                CopySource={"Bucket": self._bucket, "Key": source},
                MetadataDirective="COPY",
                **conditions,
            )
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise FileNotFoundError(source) from exc
            raise translate(exc) from exc

    def exists(self, key: str) -> bool:
        """Whether an object is there, by listing (no right to read it is needed)."""
        try:
            listed = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=key, MaxKeys=1)
        except ClientError as exc:
            raise translate(exc) from exc
        return any(item.get("Key") == key for item in listed.get("Contents", []))

    def delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            raise translate(exc) from exc
