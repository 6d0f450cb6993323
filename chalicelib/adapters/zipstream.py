"""A ZIP of many stored objects, built into object storage in bounded memory with aiobotocore.

Reads run concurrently (a few objects ahead of the one being written, each through a small
queue of chunks) and the archive leaves as multipart-upload parts, so memory stays at about
`concurrency × (depth + 1) × chunk + part` bytes whatever the number and size of the files.
"""

from __future__ import annotations

import asyncio
import time
import zipfile
from collections.abc import Sequence
from typing import Any

from chalicelib.domain.ports import ArchiveEntry

MIB = 1024 * 1024


class _PartSink:
    """A write-only, non-seekable file for zipfile: bytes gather into parts of a multipart upload."""

    def __init__(self, part_size: int) -> None:
        self.buffer = bytearray()
        self.part_size = part_size
        self.written = 0

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.written += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        return self.written

    def take(self, everything: bool = False) -> bytes | None:
        """The next full part (or what is left, at the end), removed from the buffer."""
        if len(self.buffer) >= self.part_size or (everything and self.buffer):
            size = len(self.buffer) if everything else self.part_size
            part = bytes(self.buffer[:size])
            del self.buffer[:size]
            return part
        return None


class S3ZipArchiver:
    """Builds `target` from `entries` of the same bucket; one instance per cold start."""

    def __init__(
        self,
        bucket: str,
        client_kwargs: dict[str, Any],
        concurrency: int = 4,
        depth: int = 2,
        chunk_size: int = MIB,
        part_size: int = 8 * MIB,
    ) -> None:
        self._bucket = bucket
        self._client_kwargs = client_kwargs
        self._concurrency = concurrency
        self._depth = depth
        self._chunk = chunk_size
        self._part = part_size

    def archive(self, entries: Sequence[ArchiveEntry], target: str) -> int:
        """Write the ZIP to `target`; answers its size in bytes."""
        return asyncio.run(self._archive(entries, target))

    async def _archive(self, entries: Sequence[ArchiveEntry], target: str) -> int:
        from aiobotocore.session import get_session  # heavy: only the archive route pays for it

        async with get_session().create_client("s3", **self._client_kwargs) as s3:
            upload = await s3.create_multipart_upload(Bucket=self._bucket, Key=target, ContentType="application/zip")
            upload_id = upload["UploadId"]
            try:
                parts, size = await self._write(s3, entries, target, upload_id)
                await s3.complete_multipart_upload(
                    Bucket=self._bucket, Key=target, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            except BaseException:
                await s3.abort_multipart_upload(Bucket=self._bucket, Key=target, UploadId=upload_id)
                raise
        return size

    async def _write(
        self, s3: Any, entries: Sequence[ArchiveEntry], target: str, upload_id: str
    ) -> tuple[list[dict[str, Any]], int]:
        sink = _PartSink(self._part)
        parts: list[dict[str, Any]] = []

        async def ship(everything: bool = False) -> None:
            while (part := sink.take(everything)) is not None:
                number = len(parts) + 1
                answer = await s3.upload_part(
                    Bucket=self._bucket, Key=target, UploadId=upload_id, PartNumber=number, Body=part
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        queues: list[asyncio.Queue[bytes | None]] = [asyncio.Queue(maxsize=self._depth) for _ in entries]
        readers: dict[int, asyncio.Task[None]] = {}

        def read_ahead(upto: int) -> None:
            # A window of `concurrency` objects is read at once, always starting with the one being written.
            for index in range(upto, min(upto + self._concurrency, len(entries))):
                if index not in readers and entries[index].data is None:
                    readers[index] = asyncio.create_task(self._read(s3, entries[index].key, queues[index]))

        try:
            # zipfile writes data descriptors when its file cannot seek, as here: one pass, no rewinds.
            sink_file: Any = sink
            with zipfile.ZipFile(sink_file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for index, entry in enumerate(entries):
                    if entry.data is not None:
                        archive.writestr(entry.name, entry.data)
                        await ship()
                        continue
                    read_ahead(index)
                    with archive.open(_member_info(entry), "w", force_zip64=entry.size is None) as member:
                        while (chunk := await queues[index].get()) is not None:
                            member.write(chunk)
                            await ship()
                    await readers.pop(index)  # surfaces a read error of this entry
            await ship(everything=True)
        finally:
            for reader in readers.values():
                reader.cancel()
        return parts, sink.written

    async def _read(self, s3: Any, key: str, queue: asyncio.Queue[bytes | None]) -> None:
        """Feed one object's chunks into its queue, which holds at most `depth` of them."""
        try:
            answer = await s3.get_object(Bucket=self._bucket, Key=key)
            body = answer["Body"]
            try:
                while chunk := await body.read(self._chunk):
                    await queue.put(chunk)
            finally:
                body.close()
        except Exception:
            await queue.put(None)  # wake the writer; awaiting this task then raises the error
            raise
        await queue.put(None)


def _member_info(entry: ArchiveEntry) -> zipfile.ZipInfo:
    """The member's header: stored, dated now, and sized when the size is known, so that zipfile
    writes ZIP64 headers only for a member that may pass 4 GiB (clamd reads nothing under them)."""
    info = zipfile.ZipInfo(entry.name, date_time=time.localtime(time.time())[:6])
    info.compress_type = zipfile.ZIP_STORED
    if entry.size is not None:
        info.file_size = entry.size
    return info
