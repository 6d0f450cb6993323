"""Many served objects read again and streamed to clamd at once, in bounded memory (aiobotocore).

`concurrency` objects are in flight at a time; each streams in chunks straight from S3 to its own
clamd connection, so memory stays about `concurrency × chunk` whatever the sizes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from chalicelib.adapters.clamav import ClamdScanner
from chalicelib.domain.content import ScanResult
from chalicelib.domain.ports import StoredObject

MIB = 1024 * 1024


class S3Rescanner:
    """The Rescanner port: one instance per cold start."""

    def __init__(self, bucket: str, client_kwargs: dict[str, Any], scanner: ClamdScanner, concurrency: int = 4) -> None:
        self._bucket = bucket
        self._client_kwargs = client_kwargs
        self._scanner = scanner
        self._concurrency = concurrency

    def signatures(self) -> str:
        """What clamd says of its engine and database: a change means a new rescan generation."""
        return self._scanner.version()

    def scan(self, objects: Sequence[StoredObject]) -> list[ScanResult | Exception]:
        """Each object's verdict, or the error that kept it from one (in the order given)."""
        return asyncio.run(self._scan_all(objects))

    async def _scan_all(self, objects: Sequence[StoredObject]) -> list[ScanResult | Exception]:
        from aiobotocore.session import get_session  # heavy: only the rescan pays for it

        gate = asyncio.Semaphore(self._concurrency)
        async with get_session().create_client("s3", **self._client_kwargs) as s3:

            async def one(item: StoredObject) -> ScanResult | Exception:
                async with gate:
                    try:
                        return await self._scanner.scan_stream_async(self._chunks(s3, item))
                    except Exception as exc:  # one object's failure is reported, the others go on
                        return exc

            return list(await asyncio.gather(*(one(item) for item in objects)))

    async def _chunks(self, s3: Any, item: StoredObject) -> AsyncIterator[bytes]:
        answer = await s3.get_object(Bucket=self._bucket, Key=item.key, IfMatch=item.etag)
        body = answer["Body"]
        try:
            while chunk := await body.read(MIB):
                yield chunk
        finally:
            body.close()
